// set_run_option: one option of a run from its text, for callers without the program's parser (the
// Python module). Each value is parsed as its flag's type; the checks of its range are the run's own.
#include "run/run_options.h"

#include <charconv>
#include <cstdlib>
#include <functional>
#include <limits>
#include <utility>

#include "util/errors.h"

namespace sigtrain {

namespace {

std::string flag_of(const std::string& name) {
  std::string flag = "--" + name;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

[[noreturn]] void not_a(const std::string& name, const std::string& text, const std::string& what) {
  throw UsageError(flag_of(name) + ": '" + text + "' is not " + what);
}

template <typename Integer>
Integer whole_number(const std::string& name, const std::string& text, const std::string& what) {
  Integer v{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, v);
  if (text.empty() || error != std::errc() || stop != end) not_a(name, text, what);
  return v;
}

double real_number(const std::string& name, const std::string& text) {
  char* stop = nullptr;
  const double v = std::strtod(text.c_str(), &stop);
  if (text.empty() || stop != text.c_str() + text.size()) not_a(name, text, "a number");
  return v;
}

bool truth(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  not_a(name, text, "true or false");
}

using Setter = std::function<void(RunOptions&, const std::string& name, const std::string& text)>;

Setter text_of(std::string RunOptions::*field) {
  return [field](RunOptions& o, const std::string& name, const std::string& text) {
    if (text.empty()) throw UsageError(flag_of(name) + ": needs a value, not an empty string");
    o.*field = text;
  };
}
Setter number_of(double RunOptions::*field) {
  return [field](RunOptions& o, const std::string& name, const std::string& text) { o.*field = real_number(name, text); };
}
Setter int_of(int RunOptions::*field) {
  return [field](RunOptions& o, const std::string& name, const std::string& text) {
    o.*field = whole_number<int>(name, text, "a whole number");
  };
}
Setter long_of(long long RunOptions::*field) {
  return [field](RunOptions& o, const std::string& name, const std::string& text) {
    o.*field = whole_number<long long>(name, text, "a whole number");
  };
}
Setter bool_of(bool RunOptions::*field) {
  return [field](RunOptions& o, const std::string& name, const std::string& text) { o.*field = truth(name, text); };
}

// In the order of `sigtrain train --help`.
const std::vector<std::pair<std::string, Setter>>& setters() {
  static const std::vector<std::pair<std::string, Setter>> table = {
      {"layers", text_of(&RunOptions::layers)},
      {"bias", bool_of(&RunOptions::bias)},
      {"epochs", int_of(&RunOptions::epochs)},
      {"batch", long_of(&RunOptions::batch)},
      {"lr", number_of(&RunOptions::lr)},
      {"activation", text_of(&RunOptions::activation)},
      {"output", text_of(&RunOptions::output)},
      {"loss", text_of(&RunOptions::loss)},
      {"optimizer", text_of(&RunOptions::optimizer)},
      {"momentum", number_of(&RunOptions::momentum)},
      {"beta1", number_of(&RunOptions::beta1)},
      {"beta2", number_of(&RunOptions::beta2)},
      {"eps", number_of(&RunOptions::eps)},
      {"weight_decay", number_of(&RunOptions::weight_decay)},
      {"schedule", text_of(&RunOptions::schedule)},
      {"step_every", int_of(&RunOptions::step_every)},
      {"gamma", number_of(&RunOptions::gamma)},
      {"power", number_of(&RunOptions::power)},
      {"warmup", int_of(&RunOptions::warmup)},
      {"standardize", text_of(&RunOptions::standardize)},
      {"patience", int_of(&RunOptions::patience)},
      {"min_delta", number_of(&RunOptions::min_delta)},
      {"keep", text_of(&RunOptions::keep)},
      {"seed",
       [](RunOptions& o, const std::string& name, const std::string& text) {
         o.seed = whole_number<uint64_t>(name, text,
                                         "a seed: give a whole number from 0 to " +
                                             std::to_string(std::numeric_limits<uint64_t>::max()));
       }},
      {"no_shuffle", bool_of(&RunOptions::no_shuffle)},
      {"val_split", number_of(&RunOptions::val_split)},
      {"backend", text_of(&RunOptions::backend)},
      {"threads", int_of(&RunOptions::threads)},
      {"tf32", bool_of(&RunOptions::tf32)},
      {"no_graphs", bool_of(&RunOptions::no_graphs)},
      {"kernel", text_of(&RunOptions::kernel)},
      {"replicas", int_of(&RunOptions::replicas)},
      {"sweep",
       [](RunOptions& o, const std::string& name, const std::string& text) {
         if (text.empty()) throw UsageError(flag_of(name) + ": needs a value, not an empty string");
         o.sweeps.push_back(text);
       }},
      {"verify_every", long_of(&RunOptions::verify_every)},
  };
  return table;
}

}  // namespace

void set_run_option(RunOptions& o, const std::string& name, const std::string& text) {
  for (const auto& [known, set] : setters())
    if (known == name) {
      set(o, name, text);
      o.given.insert(name);
      return;
    }
  std::string names;
  for (const std::string& known : run_option_names()) names += (names.empty() ? "" : ", ") + known;
  throw UsageError("unknown option '" + name + "'; the options are " + names);
}

const std::vector<std::string>& run_option_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& entry : setters()) v.push_back(entry.first);
    return v;
  }();
  return names;
}

}  // namespace sigtrain
