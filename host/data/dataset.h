// Data sets in memory, as contiguous floats (DESIGN.md §2: reader → Dataset → batches).
//
// x is n0 × N column-major: sample s's inputs are x[s*n0 … s*n0 + n0 − 1], which is exactly the
// A_0 = X (n0 × B, column-major) of DESIGN.md §1 for any run of consecutive samples. y likewise
// (nL × N). A data set read for prediction may have no targets (outputs == 0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sigtrain {

struct Dataset {
  std::string name;  // the file it came from, or the synthetic set's name: used in messages
  int inputs = 0;
  int outputs = 0;
  size_t size = 0;       // N
  std::vector<float> x;  // n0 × N, column-major
  std::vector<float> y;  // nL × N, column-major (empty when outputs == 0)

  const float* x_of(size_t s) const { return x.data() + s * size_t(inputs); }
  const float* y_of(size_t s) const { return y.data() + s * size_t(outputs); }
};

// The rows `rows` of `d`, in that order.
Dataset select_rows(const Dataset& d, const std::vector<size_t>& rows);

// Holds out floor(fraction · N) samples for validation, chosen by a fixed seeded permutation that does
// not depend on the training seed (so runs with different seeds validate on the same samples); both
// parts keep the file order. Throws UsageError if nothing would be left to train on.
struct TrainValidation {
  Dataset train;
  Dataset validation;  // size 0 when fraction == 0
};
TrainValidation split_validation(const Dataset& d, double fraction);
// The same split of a data set held in parts (one per rank of a job, data-parallel training): `part`
// holds rows [first_row, first_row + part.size) of the whole set's total_rows. The rule is the one
// above on the whole set (a row is held out where its position in the fixed permutation of total_rows
// is below floor(fraction · total_rows)), so every rank count, and a single process, hold out the same
// rows; each part returns its own, in file order.
TrainValidation split_validation_part(const Dataset& part, double fraction, size_t first_row, size_t total_rows);

// Built-in synthetic sets, sized by `samples`, drawn from `seed`:
//   sine: x uniform in [-2, 2]², y = sin(x1)·cos(x2)     (2 inputs, 1 output; variance ≈ 0.24)
//   xor:  x uniform in {0, 1}²,  y = x1 XOR x2            (2 inputs, 1 output)
// Throws UsageError for an unknown name.
Dataset synthetic_dataset(const std::string& name, size_t samples, uint64_t seed);
const std::vector<std::string>& synthetic_names();

// Random data for a network with `inputs` inputs and `outputs` outputs: inputs uniform in [-2, 2],
// targets in [-1, 1] (never zeros), for the tests and the benchmark.
Dataset random_dataset(int inputs, int outputs, size_t samples, uint64_t seed);
// The same draws into X and Y as they are sized (fp32 for a Dataset, fp64 for gradcheck's batch).
void draw_random_samples(uint64_t seed, std::vector<float>& X, std::vector<float>& Y);
void draw_random_samples(uint64_t seed, std::vector<double>& X, std::vector<double>& Y);

}  // namespace sigtrain
