#include "kernels/quantized_epilogue.hpp"

namespace nimble::ops {

QuantizedEpilogue quantized_epilogue(const Node& node, const QParams& src, const QParams& dst, int scale_mask,
                                     const QParams* residual) {
  check_weight_scales(node);
  const Param& ws = node.param("weight_scales");
  ParamPtr bias = node.param_ptr("bias");
  const int64_t o = ws.data.numel();
  const std::string act = node.attr_str("activation", "none");
  const float dst_scale = dst.dtype == DType::f32 ? 1.0f : dst.scale;
  QuantizedEpilogue e;
  e.bias = Tensor({o});
  std::vector<float> scales(static_cast<size_t>(o));
  for (int64_t i = 0; i < o; ++i) {
    const float acc_scale = src.scale * ws.data.data<float>()[i];
    e.bias.data<float>()[i] = bias ? bias->data.data<float>()[i] / acc_scale : 0.0f;
    scales[size_t(i)] = act == "none" ? acc_scale / dst_scale : acc_scale;
  }
  e.attr.set_output_scales(scale_mask, scales);
  dnnl::post_ops po;
  // The residual, reinterpreted in its own int8 type, joins in the units the sum is in so far:
  // real ones before an activation, dst steps without one.
  if (residual)
    po.append_sum(act == "none" ? residual->scale / dst_scale : residual->scale, kernels::to_dnnl(residual->dtype));
  if (act != "none") {
    float alpha, beta;
    const dnnl::algorithm alg = kernels::activation_algorithm(act, &alpha, &beta);
    po.append_eltwise(1.0f / dst_scale, alg, alpha, beta);
  }
  if (po.len() > 0) e.attr.set_post_ops(po);
  if (src.zero_point != 0) e.attr.set_zero_points(DNNL_ARG_SRC, 0, {src.zero_point});
  if (dst.dtype != DType::f32 && dst.zero_point != 0) e.attr.set_zero_points(DNNL_ARG_DST, 0, {dst.zero_point});
  return e;
}

}  // namespace nimble::ops
