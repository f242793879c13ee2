#pragma once
// fp16 <-> fp32 conversion of whole buffers. oneDNN 2.6 reorders fp16 with a serial reference
// kernel ("simple:any"), far slower than its bf16 reorder (docs/results.md, Figures behind code
// comments), which made emulated fp16 training crawl. Where two layouts differ only
// in data type the conversion is elementwise over the buffer, padding included, so one flat
// vectorised loop does it.
#include <cstdint>

namespace nimble::kernels {

void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
// dst += src in fp32, rounded once to fp16 (gradient accumulation of a fanned-out fp16 value).
void f16_accumulate(uint16_t* dst, const uint16_t* src, int64_t n);

}  // namespace nimble::kernels
