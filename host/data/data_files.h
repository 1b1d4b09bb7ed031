// Readers for data files (DESIGN.md §4): CSV and FANN's .data format.
//
// Every error is an InputError whose text starts with "path:line:column: " where there is a line
// (and column), and says what was expected. Nothing is printed; the caller decides.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "model/network.h"

namespace sigtrain {

// A numeric table as read from a file, before it is split into inputs and targets.
struct Table {
  std::string path;
  size_t rows = 0;
  int columns = 0;
  std::vector<float> values;  // rows × columns, row-major (one sample per row)
  long first_data_line = 0;   // line number of the first data row, for messages about the shape
                              // (in a FANN file the header's line, since the header sets the shape)
  // FANN files say how many inputs and outputs they have; CSV files do not (−1).
  int declared_inputs = -1;
  int declared_outputs = -1;
};

enum class DataFormat { automatic, csv, fann };
// "auto", "csv", "fann" (or "data"); throws UsageError otherwise.
DataFormat parse_data_format(const std::string& text);

// CSV: comma-separated, one sample per row; an optional header line whose fields are all
// non-numeric; '#' comment lines and blank lines skipped; CRLF accepted; spaces around fields
// ignored. Every row must have the same number of fields; every field must be a finite number that
// fits in a float.
Table read_csv(const std::string& path);
// FANN: a header "count inputs outputs", then per sample a line of `inputs` numbers and a line of
// `outputs` numbers, separated by white space. The counts must agree with the body.
Table read_fann(const std::string& path);
// Chooses by `format`, or by extension when automatic (.csv → CSV, .data → FANN; others CSV).
Table read_table(const std::string& path, DataFormat format = DataFormat::automatic);

// Splits a table into a Dataset for `spec`: the first n0 columns are the inputs and the last nL the
// targets. With `targets_optional`, a table of exactly n0 columns is accepted too (outputs = 0), for
// prediction. Throws InputError naming the file when the columns do not match the network.
Dataset dataset_from_table(const Table& table, const NetworkSpec& spec, bool targets_optional = false);

}  // namespace sigtrain
