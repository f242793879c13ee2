#include "kernels/dnnl_glue.hpp"

#include <algorithm>
#include <vector>

#include "kernels/f16_convert.hpp"

namespace nimble::kernels {

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dt to_dnnl(DType t) {
  switch (t) {
    case DType::f32:
      return dt::f32;
    case DType::bf16:
      return dt::bf16;
    case DType::f16:
      return dt::f16;
    case DType::s8:
      return dt::s8;
    case DType::u8:
      return dt::u8;
    case DType::s32:
      return dt::s32;
  }
  return dt::undef;
}

dnnl::memory::dims to_dims(const Shape& s) {
  auto d = s.dims();
  return dnnl::memory::dims(d.begin(), d.end());
}

tag plain_tag(int rank) {
  switch (rank) {
    case 1:
      return tag::a;
    case 2:
      return tag::ab;
    case 3:
      return tag::abc;
    case 4:
      return tag::abcd;
    case 5:
      return tag::abcde;
  }
  NIMBLE_ASSERT(false, "unsupported rank " + std::to_string(rank));
  return tag::undef;
}

tag usual_tag(const md& d, const Shape& s) {
  std::vector<tag> candidates{plain_tag(s.rank())};
  if (s.rank() == 3) candidates.insert(candidates.end(), {tag::acb, tag::aBc16b, tag::aBc8b, tag::aBc4b});
  if (s.rank() == 4) candidates.insert(candidates.end(), {tag::acdb, tag::aBcd16b, tag::aBcd8b, tag::aBcd4b});
  if (s.rank() == 5) candidates.insert(candidates.end(), {tag::acdeb, tag::aBcde16b, tag::aBcde8b, tag::aBcde4b});
  for (tag t : candidates)
    if (d == md(to_dims(s), d.data_type(), t)) return t;
  return tag::undef;
}

md plain_desc(const Shape& s, DType t) { return md(to_dims(s), to_dnnl(t), plain_tag(s.rank())); }
md any_desc(const Shape& s, DType t) { return md(to_dims(s), to_dnnl(t), tag::any); }

md with_dtype(const md& d, dt type) {
  md r = d;  // strides of a blocked layout count elements, so they hold for any element size
  r.data.data_type = dnnl_data_type_t(type);
  return r;
}

LayoutConverter::LayoutConverter(const md& from, const md& to, const dnnl::engine& eng) : to_(to) {
  needed_ = from != to;
  if (!needed_) return;
  const bool f32_f16 = from.data_type() == dt::f32 && to.data_type() == dt::f16;
  const bool f16_f32 = from.data_type() == dt::f16 && to.data_type() == dt::f32;
  if ((f32_f16 || f16_f32) && with_dtype(from, to.data_type()) == to) {
    cast_ = f32_f16 ? Cast::to_f16 : Cast::to_f32;
    cast_elements_ = int64_t(to.get_size() / (f32_f16 ? 2 : 4));
  } else {
    guarded("reorder", [&] { reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to)); });
  }
  buffer_ = guarded("reorder buffer", [&] { return dnnl::memory(to, eng); });
}

void LayoutConverter::run(dnnl::stream& s, const dnnl::memory& src, const dnnl::memory& dst) {
  switch (cast_) {
    case Cast::none:
      execute(reorder_, s, src, dst);
      return;
    case Cast::to_f16:
      f32_to_f16(static_cast<const float*>(src.get_data_handle()), static_cast<uint16_t*>(dst.get_data_handle()),
                 cast_elements_);
      return;
    case Cast::to_f32:
      f16_to_f32(static_cast<const uint16_t*>(src.get_data_handle()), static_cast<float*>(dst.get_data_handle()),
                 cast_elements_);
      return;
  }
}

dnnl::memory LayoutConverter::operator()(dnnl::stream& s, const dnnl::memory& src) {
  if (!needed_) return src;
  run(s, src, buffer_);
  return buffer_;
}

namespace {
// Every thread copies a share: one memcpy of a training activation is bandwidth one core has.
// A copy of one chunk or less (a batch-1 output, an int8 residual) stays on the calling thread:
// waking the others costs more than the copy (the default run's int8 student measured 0.030 ms at
// batch 1 with it on one thread, 0.038 ms with every copy parallel: `nimble bench`, one thread).
void parallel_copy(void* dst, const void* src, size_t bytes) {
  constexpr size_t kChunk = size_t(1) << 16;
  if (bytes <= kChunk) {
    std::memcpy(dst, src, bytes);
    return;
  }
  const int64_t chunks = int64_t((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t at = size_t(c) * kChunk;
    std::memcpy(static_cast<char*>(dst) + at, static_cast<const char*>(src) + at, std::min(kChunk, bytes - at));
  }
}
}  // namespace

void LayoutConverter::into(dnnl::stream& s, const dnnl::memory& src, const dnnl::memory& dst) {
  if (needed_) {
    run(s, src, dst);
  } else {
    s.wait();
    parallel_copy(dst.get_data_handle(), src.get_data_handle(), to_.get_size());
  }
}

ParamMemory::ParamMemory(ParamPtr p, const md& plain, const md& wanted, const dnnl::engine& eng)
    : p_(std::move(p)), plain_(plain), wanted_(wanted) {
  NIMBLE_ASSERT(p_ && size_t(p_->data.nbytes()) == plain.get_size(), "parameter size does not match its layout");
  same_ = plain == wanted;
  guarded("parameter reorder", [&] {
    plain_mem_ = dnnl::memory(plain_, eng, p_->data.raw());
    wanted_mem_ = same_ ? plain_mem_ : dnnl::memory(wanted_, eng);
    if (!same_) {
      to_wanted_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, plain_, eng, wanted_));
      from_wanted_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, wanted_, eng, plain_));
    }
    grad_plain_mem_ = dnnl::memory(plain_, eng, DNNL_MEMORY_NONE);
  });
}

ParamMemory* weights_for_backward_data(ParamMemory& forward, ParamMemory& spare, ParamPtr p, const md& plain,
                                       const md& wanted, const dnnl::engine& eng) {
  if (forward.wanted_desc() == wanted) return &forward;
  spare = ParamMemory(std::move(p), plain, wanted, eng);
  return &spare;
}

void ParamMemory::set_transform(void (*fn)(Tensor& out, const Tensor& in)) {
  transform_ = fn;
  version_ = ~uint64_t(0);
  seen_data_ = nullptr;
}

const dnnl::memory& ParamMemory::get(dnnl::stream& s) {
  if (transform_) {
    if (version_ != p_->version || p_->data.raw() != seen_data_) {
      transform_(staged_, p_->data);
      plain_mem_.set_data_handle(staged_.raw());
      if (same_)
        wanted_mem_ = plain_mem_;
      else
        to_wanted_.execute(s, plain_mem_, wanted_mem_);
      version_ = p_->version;
      seen_data_ = p_->data.raw();
    }
    return wanted_mem_;
  }
  // The Param's buffer may have been replaced (checkpoint load); follow it.
  if (p_->data.raw() != seen_data_) {
    plain_mem_.set_data_handle(p_->data.raw());
    if (same_) wanted_mem_ = plain_mem_;
    seen_data_ = p_->data.raw();
    version_ = ~uint64_t(0);
  }
  if (!same_ && version_ != p_->version) {
    to_wanted_.execute(s, plain_mem_, wanted_mem_);
    version_ = p_->version;
  }
  return wanted_mem_;
}

void ParamMemory::store_grad(dnnl::stream& s, const dnnl::memory& diff) {
  if (!p_->grad.defined() || p_->grad.shape() != p_->data.shape()) p_->grad = Tensor(p_->data.shape());
  grad_plain_mem_.set_data_handle(p_->grad.raw());
  if (same_) {
    std::memcpy(p_->grad.raw(), diff.get_data_handle(), p_->grad.nbytes());
  } else {
    from_wanted_.execute(s, const_cast<dnnl::memory&>(diff), grad_plain_mem_);
  }
}

}  // namespace nimble::kernels

namespace nimble::kernels {

dnnl::algorithm to_dnnl(EltwiseAlgorithm a) {
  using alg = dnnl::algorithm;
  switch (a) {
    case EltwiseAlgorithm::none:
      break;
    case EltwiseAlgorithm::relu:
      return alg::eltwise_relu;
    case EltwiseAlgorithm::tanh:
      return alg::eltwise_tanh;
    case EltwiseAlgorithm::elu:
      return alg::eltwise_elu;
    case EltwiseAlgorithm::square:
      return alg::eltwise_square;
    case EltwiseAlgorithm::abs:
      return alg::eltwise_abs;
    case EltwiseAlgorithm::sqrt:
      return alg::eltwise_sqrt;
    case EltwiseAlgorithm::swish:
      return alg::eltwise_swish;
    case EltwiseAlgorithm::linear:
      return alg::eltwise_linear;
    case EltwiseAlgorithm::soft_relu:
      return alg::eltwise_soft_relu;
    case EltwiseAlgorithm::logsigmoid:
      return alg::eltwise_logsigmoid;
    case EltwiseAlgorithm::mish:
      return alg::eltwise_mish;
    case EltwiseAlgorithm::logistic:
      return alg::eltwise_logistic;
    case EltwiseAlgorithm::exp:
      return alg::eltwise_exp;
    case EltwiseAlgorithm::gelu_tanh:
      return alg::eltwise_gelu_tanh;
    case EltwiseAlgorithm::gelu_erf:
      return alg::eltwise_gelu_erf;
    case EltwiseAlgorithm::log:
      return alg::eltwise_log;
    case EltwiseAlgorithm::clip:
      return alg::eltwise_clip;
    case EltwiseAlgorithm::clip_v2:
      return alg::eltwise_clip_v2;
    case EltwiseAlgorithm::pow:
      return alg::eltwise_pow;
    case EltwiseAlgorithm::round:
      return alg::eltwise_round;
    case EltwiseAlgorithm::hardswish:
      return alg::eltwise_hardswish;
  }
  NIMBLE_ASSERT(false, "no oneDNN algorithm");
  return alg::undef;
}

dnnl::algorithm activation_algorithm(const std::string& act, float* alpha, float* beta) {
  const OpTraits* f = fused_activation(act);
  NIMBLE_CHECK(f && f->onednn_eltwise != EltwiseAlgorithm::none,
               "activation '" + act + "' has no oneDNN algorithm, so it cannot run as a post-op");
  *alpha = f->onednn_alpha;
  *beta = f->onednn_beta;
  return to_dnnl(f->onednn_eltwise);
}

dnnl::primitive_attr activation_attr(const std::string& act, bool accumulate) {
  dnnl::primitive_attr attr;
  dnnl::post_ops ops;
  if (accumulate) ops.append_sum(1.0f);
  if (act != "none") {
    float alpha, beta;
    dnnl::algorithm alg = activation_algorithm(act, &alpha, &beta);
    ops.append_eltwise(1.0f, alg, alpha, beta);
  }
  if (ops.len() > 0) attr.set_post_ops(ops);
  return attr;
}

}  // namespace nimble::kernels
