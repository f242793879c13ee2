#include "nimble/runtime/many_sessions.hpp"

#include <malloc.h>

#include <dnnl.hpp>

namespace nimble {

void prepare_for_many_sessions() {
  mallopt(M_MMAP_THRESHOLD, 512 << 20);  // blocks below 512 MiB come from the heap, and are reused
  mallopt(M_TRIM_THRESHOLD, 1 << 30);    // the heap is not trimmed back below 1 GiB of free space
  if (dnnl::get_primitive_cache_capacity() < 16384) dnnl::set_primitive_cache_capacity(16384);
}

}  // namespace nimble
