#include "train/checkpoint.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "model/choices.h"
#include "model/model_file.h"
#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr const char* kFormatName = "sigtrain-checkpoint";
constexpr int kVersion = 1;

// The shortest text that reads back as exactly `v` (nlohmann writes doubles so).
std::string exact(double v) { return json(v).dump(); }

// A loss as JSON: null where it is not a finite number (NaN: none; +infinity: no best yet).
json loss_value(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string hex(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

// ---- Reading ---------------------------------------------------------------------------------------

// The checkpoint object's elements, each checked, failing as "source: checkpoint.kept.epoch is …".
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& what) const { throw InputError(located(source_, 0, 0, what)); }

  const json& member(const json& object, const std::string& key, const std::string& name) const {
    const auto found = object.find(key);
    if (found == object.end()) fail(name + "." + key + " is missing");
    return *found;
  }
  const json& object(const json& object, const std::string& key, const std::string& name) const {
    const json& value = member(object, key, name);
    if (!value.is_object()) fail(name + "." + key + " is " + value.dump() + ", expected an object");
    return value;
  }
  long long whole(const json& object, const std::string& key, const std::string& name) const {
    const json& value = member(object, key, name);
    if (!value.is_number_integer() || value.get<long long>() < 0 || value.get<long long>() > std::numeric_limits<int>::max())
      fail(name + "." + key + " is " + value.dump() + ", expected a whole number, 0 or more");
    return value.get<long long>();
  }
  // A loss: a number, or null for `missing` (NaN, or +infinity for the best so far).
  double loss(const json& object, const std::string& key, const std::string& name, double missing) const {
    const json& value = member(object, key, name);
    if (value.is_null()) return missing;
    if (!value.is_number()) fail(name + "." + key + " is " + value.dump() + ", expected a number or null");
    return value.get<double>();
  }

 private:
  const std::string& source_;
};

}  // namespace

uint64_t data_fingerprint(const Dataset& d) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a's offset basis and prime
  const auto add = [&](const void* bytes, size_t count) {
    for (size_t k = 0; k < count; ++k) {
      hash ^= static_cast<const unsigned char*>(bytes)[k];
      hash *= 1099511628211ull;
    }
  };
  const uint64_t shape[3] = {uint64_t(d.inputs), uint64_t(d.outputs), uint64_t(d.size)};
  add(shape, sizeof shape);
  add(d.x.data(), d.x.size() * sizeof(float));
  add(d.y.data(), d.y.size() * sizeof(float));
  return hash;
}

RunSettings run_settings(const Model& start, const TrainConfig& config, double validation_split, const Dataset& train,
                         const Dataset& validation, const std::string& backend) {
  const OptimizerSettings& o = start.setup.optimizer;
  const Schedule& s = config.schedule;
  return {
      {"network", start.parameters.spec.to_string()},
      {"loss", name_of(start.setup.loss)},
      {"optimizer", name_of(o.kind) + " (momentum " + exact(o.momentum) + ", beta1 " + exact(o.beta1) + ", beta2 " +
                        exact(o.beta2) + ", eps " + exact(o.eps) + ", weight decay " + exact(o.weight_decay) + ")"},
      {"lr", exact(config.lr)},
      {"schedule", name_of(s.kind) + " (step every " + std::to_string(s.step_every) + ", gamma " + exact(s.gamma) +
                       ", power " + exact(s.power) + ", warm-up " + std::to_string(s.warmup) + ")"},
      {"epochs", std::to_string(config.epochs)},
      {"batch", std::to_string(config.batch)},
      {"seed", std::to_string(config.seed)},
      {"order", config.shuffle ? "shuffled" : "file order"},
      {"validation split", exact(validation_split)},
      {"standardisation", name_of(start.standardization.what())},
      {"early stopping", "patience " + std::to_string(config.patience) + ", min-delta " + exact(config.min_delta)},
      {"keep", config.keep_best ? "best" : "last"},
      {"data", std::to_string(train.size + validation.size) + " samples, fingerprint " + hex(data_fingerprint(train)) +
                   "/" + hex(data_fingerprint(validation))},
      {"backend", backend},
  };
}

namespace {

// The "checkpoint" member's value (checkpoint.h): an object laid out as the model's own, the kept
// model's object (where there is one) written into "kept" as it is formed.
void write_checkpoint_object(std::ostream& out, const Model& like, const TrainProgress& progress,
                             const RunSettings& run) {
  JsonObjectWriter object(out, "  ");
  object.member("format") << json(kFormatName).dump();
  object.member("version") << std::to_string(kVersion);
  object.member("epochs_done") << std::to_string(progress.epochs_done);
  object.member("steps") << std::to_string(progress.steps);
  if (!progress.stopped_early.empty()) object.member("stopped_early") << json(progress.stopped_early).dump();
  const KeptModel& kept = progress.kept;
  const ordered_json kept_figures = {{"epoch", kept.epoch},
                                     {"validation_loss", loss_value(kept.validation_loss)},
                                     {"best_validation", loss_value(kept.best_validation)},
                                     {"epochs_without_improvement", kept.epochs_without_improvement}};
  std::string figures = kept_figures.dump();
  // The kept model only where it is not the checkpoint's own (with --keep best, an earlier epoch's).
  if (kept.epoch != progress.epochs_done) {
    figures.pop_back();  // its closing brace: the model is one more member
    object.member("kept") << figures << ", \"model\": ";
    write_model(out, like, kept.parameters, kept.optimizer_state, {});
    out << '}';
  } else {
    object.member("kept") << figures;
  }
  ordered_json run_object = ordered_json::object();
  for (const auto& [name, value] : run) run_object[name] = value;
  object.member("run") << run_object.dump();
  object.close();
}

// The checkpoint's text: `like`'s setup and standardisation with the progress's parameters and state,
// and the "checkpoint" member, written as it is formed (model_file.h write_model).
void write_checkpoint(std::ostream& out, const Model& like, const TrainProgress& progress, const RunSettings& run) {
  write_model(out, like, progress.parameters, progress.optimizer_state,
              {{"checkpoint", [&](std::ostream& value) { write_checkpoint_object(value, like, progress, run); }}});
}

}  // namespace

std::string checkpoint_to_json(const Model& like, const TrainProgress& progress, const RunSettings& run) {
  std::ostringstream text;
  write_checkpoint(text, like, progress, run);
  return text.str();
}

void save_checkpoint(const std::string& path, const Model& like, const TrainProgress& progress, const RunSettings& run) {
  write_file_atomically(path, [&](std::ostream& out) { write_checkpoint(out, like, progress, run); });
}

Checkpoint checkpoint_from_json(const std::string& text, const std::string& source) {
  Model model = model_from_json(text, source);  // the model part, checked as any model file is
  const json document = json::parse(text);      // (well-formed: model_from_json parsed it)
  Reader read(source);
  const auto found = document.find("checkpoint");
  if (found == document.end() || !found->is_object())
    read.fail("not a checkpoint (no \"checkpoint\" object): a model file written by --save goes to --init, "
              "a checkpoint written by --checkpoint to --resume");
  const json& c = *found;
  const std::string name = "checkpoint";
  if (c.value("format", json()) != kFormatName) read.fail("checkpoint.format is not \"" + std::string(kFormatName) + "\"");
  if (read.whole(c, "version", name) != kVersion)
    read.fail("unsupported checkpoint version " + c["version"].dump() + " (this sigtrain reads version 1)");

  Checkpoint checkpoint;
  TrainProgress& p = checkpoint.progress;
  p.epochs_done = int(read.whole(c, "epochs_done", name));
  p.steps = long(read.whole(c, "steps", name));
  if (c.contains("stopped_early")) {
    if (!c["stopped_early"].is_string()) read.fail("checkpoint.stopped_early is not a string");
    p.stopped_early = c["stopped_early"].get<std::string>();
  }
  const json& kept = read.object(c, "kept", name);
  const std::string kept_name = name + ".kept";
  KeptModel& k = p.kept;
  k.epoch = int(read.whole(kept, "epoch", kept_name));
  k.validation_loss = read.loss(kept, "validation_loss", kept_name, std::numeric_limits<double>::quiet_NaN());
  k.best_validation = read.loss(kept, "best_validation", kept_name, std::numeric_limits<double>::infinity());
  k.epochs_without_improvement = int(read.whole(kept, "epochs_without_improvement", kept_name));
  if (k.epoch > p.epochs_done) read.fail("checkpoint.kept.epoch is after checkpoint.epochs_done");
  if (k.epoch != p.epochs_done) {
    Model kept_model = model_from_json(read.object(kept, "model", kept_name).dump(), source + " (checkpoint.kept.model)");
    if (!(kept_model.parameters.spec == model.parameters.spec) || kept_model.setup.optimizer.kind != model.setup.optimizer.kind)
      read.fail("checkpoint.kept.model is not a model of the checkpoint's network and optimizer");
    k.parameters = std::move(kept_model.parameters);
    k.optimizer_state = std::move(kept_model.optimizer_state);
  } else {
    k.parameters = model.parameters;
    k.optimizer_state = model.optimizer_state;
  }
  p.parameters = std::move(model.parameters);
  p.optimizer_state = std::move(model.optimizer_state);

  for (const auto& item : read.object(c, "run", name).items()) {
    if (!item.value().is_string()) read.fail("checkpoint.run." + item.key() + " is not a string");
    checkpoint.run.emplace_back(item.key(), item.value().get<std::string>());
  }
  return checkpoint;
}

Checkpoint load_checkpoint(const std::string& path) { return checkpoint_from_json(read_file(path), path); }

void check_same_run(const std::string& path, const RunSettings& checkpoint, const RunSettings& now) {
  const auto value_in = [](const RunSettings& settings, const std::string& name) -> std::string {
    for (const auto& [key, value] : settings)
      if (key == name) return value;
    return "(none)";
  };
  const auto refuse = [&](const std::string& name, const std::string& then, const std::string& here) {
    throw UsageError("--resume " + path + ": the checkpoint's run has " + name + " " + then + ", this one " + here +
                     "; resume with the flags, data and backend the run was started with");
  };
  for (const auto& [name, value] : now)
    if (value_in(checkpoint, name) != value) refuse(name, value_in(checkpoint, name), value);
  for (const auto& [name, value] : checkpoint)  // a setting this sigtrain does not know
    if (value_in(now, name) != value) refuse(name, value, value_in(now, name));
}

}  // namespace sigtrain
