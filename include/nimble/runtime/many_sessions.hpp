#pragma once
// For work that compiles many short-lived sessions (supernet training, architecture evaluation).

namespace nimble {

// Keeps what one session leaves behind for the next: freed memory stays in the heap instead of going
// back to the system (each new session would otherwise page-fault its buffers in again: 212 -> 48 ms
// per train-session compile on a Zen 5), and oneDNN's cache of compiled kernels grows from 1,024 to
// 16,384 entries, so that the layers architectures share are compiled once. Process-wide; idempotent.
void prepare_for_many_sessions();

}  // namespace nimble
