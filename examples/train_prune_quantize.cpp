// Trains a zoo model, removes half of its channels, quantizes it to int8 and saves each step,
// printing what each step gained and cost.
//   train_prune_quantize DATA_DIR OUT_DIR [LIMIT] [EPOCHS] [FINETUNE_EPOCHS]
// LIMIT: train on the first N samples only (0: all); FINETUNE_EPOCHS: fine-tuning after pruning.
#include <cstdio>
#include <string>

#include <nimble/nimble.hpp>

int main(int argc, char** argv) try {
  if (argc < 3)
    return std::fprintf(stderr, "usage: train_prune_quantize DATA_DIR OUT_DIR [LIMIT] [EPOCHS] [FINETUNE]\n"), 2;
  const std::string data = argv[1], dir = argv[2];

  nimble::TrainOptions train;
  train.model = "cnn";
  train.data = data;
  train.limit = argc > 3 ? std::stoll(argv[3]) : 0;
  train.val = train.limit > 0 ? train.limit / 10 : 5000;
  train.epochs = argc > 4 ? std::stoll(argv[4]) : 10;
  train.out = dir + "/cnn.nimble";
  const nimble::TrainReport t = nimble::train_model(train);
  std::printf("trained: test accuracy %.4f, %lld parameters, %lld MACs\n", t.test_accuracy, (long long)t.params,
              (long long)t.macs);

  nimble::PruneOptions prune;
  prune.model = t.checkpoint;
  prune.out = dir + "/cnn-pruned.nimble";
  prune.data = data;
  prune.method = nimble::prune::Method::channel;
  prune.ratio = 0.5;
  prune.finetune_epochs = argc > 5 ? std::stoll(argv[5]) : 1;
  const nimble::PruneReport p = nimble::prune_model(prune);
  std::printf("pruned: MACs %lld -> %lld, latency %.3f -> %.3f ms, test accuracy %.4f -> %.4f\n",
              (long long)p.macs_before, (long long)p.macs_after, p.latency_ms_before, p.latency_ms_after,
              p.test_accuracy_before, p.test_accuracy_after);

  nimble::QuantizeOptions quantize;
  quantize.model = p.checkpoint;
  quantize.out = dir + "/cnn-int8.nimble";
  quantize.data = data;
  const nimble::QuantizeReport q = nimble::quantize_model(quantize);
  std::printf("quantized: size %lld -> %lld bytes, latency %.3f -> %.3f ms, test accuracy %.4f -> %.4f\n",
              (long long)q.size_bytes_fp32, (long long)q.size_bytes_int8, q.latency_ms_fp32, q.latency_ms_int8,
              q.test_accuracy_fp32, q.test_accuracy_int8);
  std::printf("saved %s\n", q.checkpoint.c_str());
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
