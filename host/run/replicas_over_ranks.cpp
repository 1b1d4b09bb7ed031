#include "run/replicas_over_ranks.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "model/model_file.h"
#include "run/train_run.h"

namespace sigtrain {

namespace {

// Bytes between ranks of one job (one build, one machine type): numbers as their bytes, so that a
// loss arrives with the bits it left with (the choice of the best compares them).
class Writer {
 public:
  void number(uint64_t v) { raw(&v, sizeof v); }
  void number(double v) { raw(&v, sizeof v); }
  void text(const std::string& s) {
    number(uint64_t(s.size()));
    bytes_ += s;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void raw(const void* p, size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  std::string bytes_;
};

class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  bool done() const { return at_ == bytes_.size(); }
  uint64_t whole() {
    uint64_t v;
    raw(&v, sizeof v);
    return v;
  }
  double real() {
    double v;
    raw(&v, sizeof v);
    return v;
  }
  std::string text() {
    const size_t n = size_t(whole());
    check(n);
    std::string s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }

 private:
  void check(size_t n) const {
    if (bytes_.size() - at_ < n) throw std::logic_error("replicas over ranks: a rank's message is cut short");
  }
  void raw(void* p, size_t n) {
    check(n);
    std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
  }
  const std::string& bytes_;
  size_t at_ = 0;
};

}  // namespace

std::vector<size_t> networks_of_rank(size_t networks, int rank, int ranks) {
  std::vector<size_t> mine;
  for (size_t r = size_t(rank); r < networks; r += size_t(ranks)) mine.push_back(r);
  return mine;
}

std::vector<ReplicaResult> gather_replica_results(Communicator& ranks, const std::vector<NetworkSettings>& settings,
                                                  std::vector<ReplicaResult> trained) {
  const std::vector<size_t> mine = networks_of_rank(settings.size(), ranks.rank(), ranks.size());
  if (trained.size() != mine.size()) throw std::logic_error("gather_replica_results: not this rank's share");
  std::vector<ReplicaResult> results(settings.size());
  Writer out;
  for (size_t k = 0; k < mine.size(); ++k) {
    const ReplicaResult& x = trained[k];
    out.number(uint64_t(x.ran));
    out.number(uint64_t(x.result.outcome));
    out.text(x.result.message);
    out.number(uint64_t(int64_t(x.result.kept_epoch)));
    out.number(x.result.kept_validation_loss);
    out.number(x.train_loss);
    out.number(x.validation_loss);
    out.number(uint64_t(x.result.epochs.size()));
    out.number(uint64_t(int64_t(x.result.epochs.empty() ? 0 : x.result.epochs.back().epoch)));
    results[mine[k]] = std::move(trained[k]);
  }
  const std::vector<std::string> all = ranks.all_gather(out.bytes());
  for (int rank = 0; rank < ranks.size(); ++rank) {
    if (rank == ranks.rank()) continue;
    Reader in(all[size_t(rank)]);
    for (size_t index : networks_of_rank(settings.size(), rank, ranks.size())) {
      ReplicaResult& x = results[index];
      x.settings = settings[index];
      x.ran = in.whole() != 0;
      x.result.outcome = TrainOutcome(in.whole());
      x.result.message = in.text();
      x.result.kept_epoch = int(int64_t(in.whole()));
      x.result.kept_validation_loss = in.real();
      x.train_loss = in.real();
      x.validation_loss = in.real();
      const size_t epochs = size_t(in.whole());
      const int last_epoch = int(int64_t(in.whole()));
      // The table reads only the last epoch's number (network_line: interrupted in an epoch or not).
      if (epochs > 0) {
        x.result.epochs.resize(1);
        x.result.epochs[0].epoch = last_epoch;
      }
    }
    if (!in.done()) throw std::logic_error("replicas over ranks: a rank sent more than its share");
  }
  return results;
}

std::map<size_t, std::string> gather_model_texts(Communicator& ranks, const TrainPlan& plan,
                                                 const std::vector<ReplicaResult>& results,
                                                 const std::vector<size_t>& wanted) {
  Writer out;
  for (size_t index : wanted) {
    if (rank_of_network(index, ranks.size()) != ranks.rank()) continue;
    out.number(uint64_t(index));
    out.text(model_to_json(replica_model(plan, results[index])));
  }
  std::map<size_t, std::string> texts;
  for (const std::string& bytes : ranks.gather(out.bytes(), 0)) {
    Reader in(bytes);
    while (!in.done()) {
      const size_t index = size_t(in.whole());
      texts[index] = in.text();
    }
  }
  return texts;
}

}  // namespace sigtrain
