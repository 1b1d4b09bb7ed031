// Readers for data files (DESIGN.md §4): CSV and FANN's .data format.
//
// Every error is an InputError whose text starts with "path:line:column: " where there is a line
// (and column), and says what was expected. Nothing is printed; the caller decides. The path "-" is
// standard input, read to its end and called "standard input" in messages and in Table::path.
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
  // Columns passed through as text (CSV only, see read_csv's `keep`): not among `columns` and `values`.
  std::vector<int> kept_columns;        // their 0-based indices in the file, in the order asked for
  std::vector<std::string> kept_names;  // the header's names for them, or "column3" without a header
  std::vector<std::string> kept_text;   // rows × kept_columns.size(): each field as in the file
};

// "-": the data come from standard input.
bool is_standard_input(const std::string& path);
// The name of a data source in messages: the path, or "standard input" for "-".
inline constexpr char kStandardInputName[] = "standard input";
std::string data_source_name(const std::string& path);

enum class DataFormat { automatic, csv, fann };
// "auto", "csv", "fann" (or "data"); throws UsageError otherwise.
DataFormat parse_data_format(const std::string& text);

// CSV: comma-separated, one sample per row; an optional header line whose fields are all
// non-numeric; '#' comment lines and blank lines skipped; CRLF accepted; spaces around fields
// ignored. Every row must have the same number of fields; every field must be a finite number that
// fits in a float, except in the columns `keep` names (1-based numbers, or names from the header):
// those may hold any text, which goes to Table::kept_text as it is. A `keep` entry that names no
// column, or all columns kept, is a UsageError (the columns come from a flag, --keep-columns).
Table read_csv(const std::string& path, const std::vector<std::string>& keep = {});
// FANN: a header "count inputs outputs", then per sample a line of `inputs` numbers and a line of
// `outputs` numbers, separated by white space. The counts must agree with the body.
Table read_fann(const std::string& path);
// Chooses by `format`, or when automatic by extension (.csv → CSV, .data → FANN; others CSV) and, for
// standard input, by its first line: three whole numbers separated by blanks (a FANN header) → FANN,
// anything else CSV. `keep` as read_csv's; with FANN data it is a UsageError.
Table read_table(const std::string& path, DataFormat format = DataFormat::automatic,
                 const std::vector<std::string>& keep = {});

// One rank's part of a data file read by byte ranges (data-parallel training over ranks): the file's
// bytes [begin, end), and the rows whose first byte lies there. Rank r of R takes [S·r/R, S·(r+1)/R)
// of S bytes, so every row is read by exactly one rank, and the parts in rank order are the file.
struct ByteRange {
  size_t begin = 0;
  size_t end = 0;
};
ByteRange byte_range_of_rank(size_t file_bytes, int rank, int ranks);
// Where rank `rank`'s equal share of n things (bytes, rows) starts: ⌊n·rank/ranks⌋, computed without
// overflowing n·rank. Rank r's share is [share_start(n, r, R), share_start(n, r + 1, R)).
size_t share_start(size_t n, int rank, int ranks);
// The rows of `path` that start in `range`, as a Table (rows 0, columns 0 where none does). CSV: the
// lines that start there, read from where they start; a header line is one of the first part's lines,
// and a part's first line is a header only where none of its fields is a number. FANN: the samples
// whose inputs line starts there (the file is read as a stream up to the part's end, to count lines;
// the part reaching the file's end checks the header's count). Messages name "path (bytes b-e)", with
// line numbers counted from the part's first line.
Table read_table_rows_in(const std::string& path, DataFormat format, ByteRange range);

// Splits a table into a Dataset for `spec`: the first n0 columns are the inputs and the last nL the
// targets. With `targets_optional`, a table of exactly n0 columns is accepted too (outputs = 0), for
// prediction. Throws InputError naming the file when the columns do not match the network.
Dataset dataset_from_table(const Table& table, const NetworkSpec& spec, bool targets_optional = false);

}  // namespace sigtrain
