// nimble prune: magnitude / N:M sparsity or whole channels removed, with optional distilled
// fine-tuning (nimble::prune_model).
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/core/error.hpp"
#include "nimble/workflows/prune.hpp"

namespace nimble::cli {

namespace {

std::pair<int, int> parse_nm(const std::string& text) {
  int n = 0, m = 0;
  char tail = 0;
  NIMBLE_CHECK(std::sscanf(text.c_str(), "%d:%d%c", &n, &m, &tail) == 2, "expects N:M such as 2:4, got '" + text + "'");
  return {n, m};
}

void add_method_options(CLI::App* c, PruneOptions& o) {
  c->add_option_function<std::string>(
       "--method", parse_field("method", [&o](const std::string& s) { o.method = prune::method_from_name(s); }),
       "magnitude | channel | nm")
      ->default_str("magnitude");
  c->add_option("--sparsity", o.sparsity, "magnitude: fraction of conv / linear weights set to zero")
      ->capture_default_str();
  c->add_option_function<std::string>(
       "--scope", parse_field("scope", [&o](const std::string& s) { o.scope = prune::scope_from_name(s); }),
       "magnitude: global (one threshold over all layers) | layer (one rate for every layer; layers whose filters "
       "have <= 9 weights stay dense)")
      ->default_str("global");
  c->add_option_function<double>(
       "--ratio", [&o](double v) { o.ratio = v; },
       "channel: fraction of the channels of every prunable space to remove")
      ->default_str("0.5");
  c->add_option_function<std::string>(
       "--criterion",
       parse_field("criterion", [&o](const std::string& s) { o.criterion = prune::criterion_from_name(s); }),
       "channel: l1 | l2 (filter norms) | bn (batch-norm scale) | taylor (loss change of removing a channel, measured "
       "on training images and the fine-tuning's gradients)")
      ->default_str("l1");
  c->add_option_function<double>(
      "--target-macs", [&o](double v) { o.target_macs = v; },
      "channel: remove the fewest channels that bring MACs/sample to this");
  c->add_option_function<double>(
      "--target-latency-ms", [&o](double v) { o.target_latency_ms = v; },
      "channel: remove the fewest channels that bring the measured batch-1 latency to this");
  c->add_flag("--uniform", o.uniform,
              "channel targets: one ratio for every layer instead of per-layer ratios chosen by measured accuracy "
              "and cost");
  c->add_flag("--per-layer", o.per_layer,
              "channel --ratio R: per-layer ratios, chosen as for a target, that run no slower at batch 1 than R "
              "everywhere (timed beside it)");
  c->add_option_function<std::string>(
       "--nm", parse_field("nm", [&o](const std::string& s) { std::tie(o.n, o.m) = parse_nm(s); }),
       "nm: keep N of every M consecutive input-channel weights")
      ->default_str("2:4");
}

void add_finetune_options(CLI::App* c, PruneOptions& o) {
  c->add_option("--plan-images", o.plan_images,
                "channel targets: training images of the short fine-tuning that judges each per-layer candidate "
                "(default 12800; 0: judged one shot)");
  c->add_option("--finetune-epochs", o.finetune_epochs,
                "fine-tune this many epochs while sparsity rises on the cubic schedule (0: prune in one shot)")
      ->capture_default_str();
  c->add_option("--lr", o.lr, "fine-tuning peak learning rate (cosine)")->capture_default_str();
  c->add_option("--finetune-batch", o.finetune_batch, "fine-tuning batch size (default: the model's training batch)");
  add_sync_bn_flag(c, o.sync_batch_norm);
  c->add_option("--ramp", o.ramp, "fraction of the fine-tuning steps over which sparsity rises to the target")
      ->capture_default_str();
  add_precision_option(c, o.precision);
  c->add_flag("--resume", o.resume,
              "continue the interrupted fine-tuning saved in OUT.train (give the same command again, with --resume)");
  add_teacher_options(c, o.teacher);
  c->get_option("--teacher")
      ->description(
          "distil from this model while fine-tuning (default: the unpruned model itself; none: no distillation)");
}

}  // namespace

void add_prune(CLI::App& app) {
  auto o = std::make_shared<PruneOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c =
      app.add_subcommand("prune", "Prune a checkpoint: magnitude / N:M sparsity or whole channels, with fine-tuning");
  c->add_option("model", o->model, "fp32 checkpoint (.nimble)")->required();
  c->add_option("--out", o->out, "where to write the pruned checkpoint")->required();
  add_method_options(c, *o);
  add_finetune_options(c, *o);
  add_data_options(c, o->data, o->data_format, o->skip_bad, o->cache_mb,
                   "fine-tuning on its training split, accuracy on its test split");
  c->add_option("--batch", o->batch, "batch size of the throughput measurement")->capture_default_str();
  c->add_option("--iters", o->iters, "timed batch-1 calls per model")->capture_default_str();
  c->add_option("--seed", o->seed, "fine-tuning seed")->capture_default_str();
  add_force_flag(c, o->force);
  add_output_options(c, *out, false);
  c->callback([o, out] {
    if (o->teacher.teacher == "none") o->teacher.teacher.clear(), o->no_teacher = true;
    o->progress = !out->json;
    const PruneReport r = prune_model(*o);
    if (out->json)
      print_json(to_json(r));
    else
      note(layer_table(r));
  });
}

}  // namespace nimble::cli
