// nimble search: hardware-aware architecture search (nimble::search), stages resumed from --out.
#include <cstdio>
#include <memory>

#include "cli/common.hpp"
#include "nimble/workflows/search.hpp"

namespace nimble::cli {

namespace {

void add_space_and_training_options(CLI::App* c, SearchOptions& o) {
  c->add_flag("--se", o.squeeze_excite, "squeeze-excitation in stages 2, 4 and 5 (MobileNetV3)");
  c->add_flag("--hswish", o.hard_swish, "hard-swish in stages 3 to 5 and the head (MobileNetV3)");
  c->add_option("--epochs", o.epochs, "supernet training epochs")->capture_default_str();
  c->add_option_function<int64_t>(
      "--batch", [&o](int64_t v) { o.batch = v; }, "supernet batch (default 128)");
  c->add_option_function<double>(
      "--lr", [&o](double v) { o.lr = v; }, "peak learning rate (default 0.05 x batch/128)");
  c->add_option("--random-subnets", o.random_subnets, "random sub-networks per step besides the largest and smallest")
      ->capture_default_str();
  add_precision_option(c, o.precision);
  c->add_option_function<int64_t>(
      "--val", [&o](int64_t v) { o.val = v; },
      "validation images held out of the training split (default a tenth, at most 5000)");
  c->add_option("--limit", o.limit, "train on the first N training images (0: all)")->capture_default_str();
  c->add_option("--seed", o.seed, "seed of the supernet, its sampling and the search")->capture_default_str();
}

void add_latency_and_search_options(CLI::App* c, SearchOptions& o) {
  c->add_option("--deploy", o.deploy, "precision the model will run in: fp32 | bf16 | int8")->capture_default_str();
  c->add_option("--threads", o.threads, "threads of the latency measurements (0: all cores)")->capture_default_str();
  c->add_option("--latency-iters", o.latency_iters, "timed runs per latency measurement (median kept)")
      ->capture_default_str();
  c->add_option("--latency-validation", o.latency_validation, "held-out models measured to validate the predictor")
      ->capture_default_str();
  c->add_option("--population", o.population, "NSGA-II population (architectures measured per generation)")
      ->capture_default_str();
  c->add_option("--generations", o.generations, "NSGA-II generations after the initial population")
      ->capture_default_str();
  c->add_option("--random-evaluations", o.random_evaluations, "random-search control: architectures (0: none)")
      ->capture_default_str();
  c->add_option_function<double>(
      "--max-latency-ms", [&o](double v) { o.max_latency_ms = v; },
      "latency budget: the most accurate model that runs within it");
  c->add_option_function<double>(
      "--min-accuracy", [&o](double v) { o.min_accuracy = v; }, "accuracy floor (a fraction, e.g. 0.9)");
  c->add_option("--select", o.select, "models extracted from the front when there is no budget")->capture_default_str();
  c->add_option("--arch", o.arch,
                "extract this architecture (dD-wW-eE-kK per stage, '_' between stages) instead of searching: written "
                "to OUT/arch-ARCH.nimble");
  c->add_option("--finetune-epochs", o.finetune_epochs, "fine-tune each extracted model this many epochs")
      ->capture_default_str();
}

}  // namespace

void add_search(CLI::App& app) {
  auto o = std::make_shared<SearchOptions>();
  auto out = std::make_shared<Output>();
  CLI::App* c = app.add_subcommand(
      "search", "Find the fastest accurate architecture for this CPU: supernet, latency table, NSGA-II, extraction");
  c->add_option("--out", o->out, "work directory: each stage's result, resumed from when run again")
      ->capture_default_str();
  add_data_options(c, o->data, o->data_format, o->skip_bad, o->cache_mb,
                   "supernet training and validation splits, test accuracy of the extracted models");
  add_space_and_training_options(c, *o);
  add_latency_and_search_options(c, *o);
  add_output_options(c, *out, false);
  c->callback([o, out] {
    o->progress = !out->json;
    const SearchReport r = search(*o);
    if (out->json) print_json(to_json(r));
  });
}

}  // namespace nimble::cli
