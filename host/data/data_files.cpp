// Readers for CSV and FANN .data files (DESIGN.md §4).
//
// Both readers load the whole file into memory and parse it from there, line by line, with
// std::from_chars: one pass, no stream per number and no locale, so files of millions of rows load in
// about the time it takes to read them. They share everything but the splitting of a line: the file
// loading, the line cursor, the number rules and the "path:line:column: " error helpers (TextFile).

#include "data/data_files.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {

bool is_standard_input(const std::string& path) { return path == "-"; }

std::string data_source_name(const std::string& path) { return is_standard_input(path) ? kStandardInputName : path; }

namespace {

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";
// Longest piece of a field quoted in a message: enough to recognise it, short enough for one line.
constexpr size_t kMaxQuotedChars = 40;

bool is_blank_char(char c) { return c == ' ' || c == '\t'; }

// `text` without the spaces and tabs around it; the view still points into the same line, so the
// column of what is left can be computed from it.
std::string_view trim(std::string_view text) {
  while (!text.empty() && is_blank_char(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank_char(text.back())) text.remove_suffix(1);
  return text;
}

bool is_utf8_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence of two to four bytes starting at text[i], or 0.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                        : lead >= 0xE0 && lead <= 0xEF ? 3
                        : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                       : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k)
    if (!is_utf8_continuation(static_cast<unsigned char>(text[i + k]))) return 0;
  return length;
}

// The two lowercase hex digits of `byte`, for messages ("0x00", "\\xff").
std::string hex_digits(unsigned char byte) {
  static const char kHex[] = "0123456789abcdef";
  return {kHex[byte >> 4], kHex[byte & 0xF]};
}

// `text` in single quotes for a one-line message: control characters and bytes that are not UTF-8
// are written as \xHH (so a binary file cannot put raw bytes or a newline on the terminal), and a long
// field is cut short.
std::string in_quotes(std::string_view text) {
  std::string out = "'";
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    if (chars == kMaxQuotedChars) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7F) {
      out += text[i++];
    } else if (const size_t length = utf8_sequence_length(text, i)) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\\x" + hex_digits(byte);
      ++i;
    }
  }
  return out + "'";
}

// 1-based column of `at` (a pointer into `line`) in characters, as an editor counts them: UTF-8
// continuation bytes do not start a character.
long character_column(std::string_view line, const char* at) {
  const auto end = line.begin() + (at - line.data());
  return 1 + std::count_if(line.begin(), end, [](char c) { return !is_utf8_continuation(c); });
}

// "1 input", "2 inputs".
std::string count_of(long long n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

enum class NumberKind { finite, not_a_number, not_finite, out_of_range };

// Parses all of `text` as a float (round to nearest, whatever the locale). A number too small for a
// float is not an error: it becomes a subnormal or zero, as a conversion from double would make it.
NumberKind parse_number(std::string_view text, float& value) {
  // from_chars does not take the leading '+' that spreadsheets and printf("%+g") write: skip one.
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) return NumberKind::not_a_number;
  }
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error == std::errc::invalid_argument || stop != end) return NumberKind::not_a_number;
  if (error == std::errc::result_out_of_range) {
    // libstdc++ says "out of range" for underflow as well as overflow; tell them apart through double.
    double wide = 0;
    const auto [wide_stop, wide_error] = std::from_chars(text.data(), end, wide);
    if (wide_error == std::errc() && wide_stop == end && std::fabs(wide) < FLT_MIN) {
      value = static_cast<float>(wide);
      return NumberKind::finite;
    }
    return NumberKind::out_of_range;
  }
  return std::isfinite(value) ? NumberKind::finite : NumberKind::not_finite;
}

bool looks_numeric(std::string_view text) {
  float ignored;
  return parse_number(text, ignored) != NumberKind::not_a_number;
}

std::string describe_bad_number(std::string_view text, NumberKind kind) {
  switch (kind) {
    case NumberKind::not_finite:
      return in_quotes(text) + " is not a finite number";
    case NumberKind::out_of_range:
      return in_quotes(text) + " is out of range for float";
    default:
      if (!text.empty() && (text.front() == '"' || text.front() == '\''))
        return in_quotes(text) + " is not a number (quoted fields are not supported)";
      return in_quotes(text) + " is not a number";
  }
}

// All of standard input (a pipe, a file or a terminal: read to its end) as bytes.
std::string read_standard_input() {
  std::string text;
  char buffer[1 << 16];
  while (true) {
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got > 0) {
      text.append(buffer, size_t(got));
    } else if (got == 0) {
      return text;
    } else if (errno != EINTR) {
      throw InputError(located(kStandardInputName, 0, 0, std::string("cannot read: ") + std::strerror(errno)));
    }
  }
}

// A data file in memory, walked line by line, with the error helpers both readers share. The path
// "-" is standard input, named "standard input" in messages.
class TextFile {
 public:
  explicit TextFile(const std::string& path)
      : TextFile(data_source_name(path), is_standard_input(path) ? read_standard_input() : read_file(path),
                 is_standard_input(path)) {}
  // Text already read (a part of a file), called `name` in messages.
  TextFile(std::string name, std::string text, bool standard_input = false) : path_(std::move(name)), text_(std::move(text)) {
    if (text_.empty()) fail_file(standard_input ? "no data (it is empty)" : "the file is empty");
    // Windows' "Unicode text" is UTF-16, whose NUL bytes would otherwise read as "not a text file".
    if (text_.rfind("\xFF\xFE", 0) == 0 || text_.rfind("\xFE\xFF", 0) == 0)
      fail_file("the file is UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8");
    rest_ = text_;
    if (rest_.substr(0, kUtf8ByteOrderMark.size()) == kUtf8ByteOrderMark)  // as Excel writes CSV
      rest_.remove_prefix(kUtf8ByteOrderMark.size());
  }

  // Moves to the next line that is not blank (nor, with skip_comments, a '#' comment); false at the
  // end of the file.
  bool next_content_line(bool skip_comments) {
    while (next_line()) {
      const std::string_view content = trim(line_);
      if (content.empty() || (skip_comments && content.front() == '#')) continue;
      return true;
    }
    return false;
  }

  // The first line with more than blanks on it, without moving: for choosing the format.
  std::string_view first_content_line() const {
    for (std::string_view rest = rest_; !rest.empty();) {
      const size_t newline = rest.find('\n');
      std::string_view line = rest.substr(0, newline);
      rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!trim(line).empty()) return line;
    }
    return {};
  }

  const std::string& name() const { return path_; }
  std::string_view line() const { return line_; }  // without its line end
  long line_number() const { return line_number_; }

  // At most how many lines are left, counting the current one: for reserving, not for checking.
  size_t lines_left_at_most() const { return size_t(std::count(rest_.begin(), rest_.end(), '\n')) + 1; }

  [[noreturn]] void fail_file(const std::string& what) const { throw InputError(located(path_, 0, 0, what)); }
  [[noreturn]] void fail_line(long line_number, const std::string& what) const {
    throw InputError(located(path_, line_number, 0, what));
  }
  [[noreturn]] void fail_line(const std::string& what) const { fail_line(line_number_, what); }
  // `at` is part of line(): the message points at its first character.
  [[noreturn]] void fail_at(std::string_view at, const std::string& what) const {
    throw InputError(located(path_, line_number_, character_column(line_, at.data()), what));
  }

  // `field` (part of line()) as a float, or an error pointing at it. When the field is not a number
  // at all, `hint()` may add the likely cause; it is called only then, to keep the good path fast.
  template <class Hint>
  float number(std::string_view field, Hint hint) const {
    float value = 0;
    const NumberKind kind = parse_number(field, value);
    if (kind == NumberKind::finite) return value;
    fail_at(field, describe_bad_number(field, kind) + (kind == NumberKind::not_a_number ? hint() : ""));
  }
  float number(std::string_view field) const {
    return number(field, [] { return std::string(); });
  }

 private:
  bool next_line() {
    if (rest_.empty()) return false;
    const size_t newline = rest_.find('\n');
    line_ = rest_.substr(0, newline);
    rest_.remove_prefix(newline == std::string_view::npos ? rest_.size() : newline + 1);
    if (!line_.empty() && line_.back() == '\r') line_.remove_suffix(1);  // CRLF line ends
    ++line_number_;
    check_text_bytes();
    return true;
  }

  // Tabs are the only control characters a text line may hold; anything else (NUL above all) means
  // a binary file, reported at the first such byte rather than as a baffling number error.
  void check_text_bytes() const {
    const auto bad = std::find_if(line_.begin(), line_.end(), [](char c) {
      const auto byte = static_cast<unsigned char>(c);
      return (byte < 0x20 && c != '\t') || byte == 0x7F;
    });
    if (bad == line_.end()) return;
    const std::string_view at = line_.substr(size_t(bad - line_.begin()));
    if (*bad == '\r')
      fail_at(at, "carriage return inside a line (byte 0x0d): lines must end in \\n or \\r\\n");
    fail_at(at, "not a text file (byte 0x" + hex_digits(static_cast<unsigned char>(*bad)) + ")");
  }

  std::string path_;
  std::string text_;
  std::string_view rest_;  // what is left of text_ after line_
  std::string_view line_;
  long line_number_ = 0;
};

// Splits a CSV line at its commas into fields without the spaces around them (views into `line`).
void split_csv_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  for (size_t start = 0;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

// Splits a FANN line into its values, separated by spaces and tabs (views into `line`).
void split_values(std::string_view line, std::vector<std::string_view>& values) {
  values.clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() && is_blank_char(line[i])) ++i;
    if (i == line.size()) return;
    const size_t start = i;
    while (i < line.size() && !is_blank_char(line[i])) ++i;
    values.push_back(line.substr(start, i - start));
  }
}

// What most likely went wrong when a CSV field is not a number, beyond the field itself.
std::string csv_hint(std::string_view field, bool could_be_header) {
  if (field.find_first_of(" \t;") != std::string_view::npos) return " (fields must be separated by commas)";
  if (could_be_header) return " (a header line must have no numeric fields)";
  return "";
}

// A FANN header count: a whole number >= 0, all of `text`.
bool parse_count(std::string_view text, long long& count) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, count);
  return error == std::errc() && stop == end && count >= 0;
}

// "1" → 0: a column number as written (1-based) to an index; −1 when `text` is not a whole number.
long column_number_index(const std::string& text) {
  unsigned long number = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, number);
  if (text.empty() || stop != end) return -1;
  // 0 and numbers too large for a long are out of range, as a column past the last is.
  return error == std::errc() && number >= 1 && number <= (unsigned long)LONG_MAX ? long(number - 1) : LONG_MAX;
}

// The 0-based indices of the columns `keep` names (1-based numbers or, given a header, its names), in
// the order given, for a file of `columns` fields per row. Throws UsageError: the columns are a flag's.
std::vector<size_t> resolve_kept_columns(const std::vector<std::string>& keep,
                                         const std::vector<std::string_view>& header, size_t columns,
                                         const std::string& name) {
  std::vector<size_t> indices;
  for (const std::string& column : keep) {
    long index = column_number_index(column);
    if (index < 0) {
      const auto named = std::find(header.begin(), header.end(), column);
      if (header.empty())
        throw UsageError("--keep-columns: " + in_quotes(column) + " is not a column number (counting from 1), and " +
                         name + " has no header line to name its columns");
      if (named == header.end())
        throw UsageError("--keep-columns: " + name + " has no column named " + in_quotes(column));
      index = long(named - header.begin());
    } else if (size_t(index) >= columns) {
      throw UsageError("--keep-columns: column " + column + " is out of range: " + name + " has " +
                       count_of(long(columns), "column"));
    }
    if (std::find(indices.begin(), indices.end(), size_t(index)) != indices.end())
      throw UsageError("--keep-columns: column " + in_quotes(column) + " is given twice");
    indices.push_back(size_t(index));
  }
  if (indices.size() == columns)
    throw UsageError("--keep-columns: that is every column of " + name + ", which leaves no inputs");
  return indices;
}

// The readers proper, on a file already in memory.
Table parse_csv(TextFile& file, const std::vector<std::string>& keep) {
  Table table;
  table.path = file.name();
  std::vector<std::string_view> fields, header;
  std::vector<char> is_kept;  // per column: passed through as text rather than read as a number
  long header_line = 0;
  size_t columns = 0;  // fields per row, kept ones included
  bool first_line = true;
  while (file.next_content_line(/*skip_comments=*/true)) {
    split_csv_fields(file.line(), fields);
    const bool could_be_header = first_line;
    first_line = false;
    if (could_be_header && std::none_of(fields.begin(), fields.end(), looks_numeric)) {
      header_line = file.line_number();
      header = fields;
      continue;
    }
    if (table.rows == 0) {
      if (header_line != 0 && fields.size() != header.size())
        file.fail_line("this row has " + count_of(fields.size(), "field") + ", but the header (line " +
                       std::to_string(header_line) + ") has " + std::to_string(header.size()));
      columns = fields.size();
      is_kept.assign(columns, 0);
      for (const size_t index : resolve_kept_columns(keep, header, columns, file.name())) {
        is_kept[index] = 1;
        table.kept_columns.push_back(int(index));
        table.kept_names.push_back(header.empty() ? "column" + std::to_string(index + 1) : std::string(header[index]));
      }
      table.columns = int(columns - keep.size());
      table.first_data_line = file.line_number();
      table.values.reserve(file.lines_left_at_most() * size_t(table.columns));
    } else if (fields.size() != columns) {
      file.fail_line("this row has " + count_of(fields.size(), "field") + ", expected " + std::to_string(columns) +
                     " like the first data row (line " + std::to_string(table.first_data_line) + ")");
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      const std::string_view field = fields[i];
      if (field.empty())  // a line of one empty field is blank, so a last one follows a comma
        file.fail_at(field, i + 1 == fields.size() ? "empty field after a trailing comma" : "empty field");
      if (is_kept[i]) continue;
      table.values.push_back(file.number(field, [&] { return csv_hint(field, could_be_header); }));
    }
    // The kept fields in the order asked for, each exactly as in the file (without the blanks around it).
    for (const int index : table.kept_columns) table.kept_text.emplace_back(fields[size_t(index)]);
    ++table.rows;
  }
  if (table.rows == 0)
    file.fail_file(header_line != 0
                       ? "no data rows (only a header, on line " + std::to_string(header_line) + ")"
                       : std::string("no data rows"));
  return table;
}

Table parse_fann(TextFile& file) {
  if (!file.next_content_line(/*skip_comments=*/false)) file.fail_file("no data rows");

  // The header: "count inputs outputs".
  const std::string header_form = "the FANN header must be 'count inputs outputs' (three whole numbers)";
  std::vector<std::string_view> values;
  split_values(file.line(), values);
  const long header_line = file.line_number();
  if (values.size() != 3) {
    const bool looks_like_csv = file.line().find(',') != std::string_view::npos;
    file.fail_line(header_form + ", but this line has " + count_of(values.size(), "value") +
                   (looks_like_csv ? " (a CSV file? use --format csv)" : ""));
  }
  long long counts[3];
  const char* const count_names[3] = {"sample", "input", "output"};
  for (int k = 0; k < 3; ++k) {
    if (!parse_count(values[k], counts[k]))
      file.fail_at(values[k], header_form + ", but " + in_quotes(values[k]) + " is not a whole number");
    if (counts[k] == 0)
      file.fail_at(values[k],
                   "the FANN header says 0 " + std::string(count_names[k]) + "s; there must be at least 1");
    // Wider than any network could take; checked here so that inputs + outputs fits in an int.
    if (k > 0 && counts[k] > kMaxWidth)
      file.fail_at(values[k], "the FANN header says " + count_of(counts[k], count_names[k]) +
                                  ", more than the widest layer allowed (" + std::to_string(kMaxWidth) + ")");
  }
  const long long samples = counts[0];
  const int inputs = int(counts[1]), outputs = int(counts[2]);

  Table table;
  table.path = file.name();
  table.columns = inputs + outputs;
  table.declared_inputs = inputs;
  table.declared_outputs = outputs;
  table.first_data_line = header_line;  // the header sets the shape, so messages about it point there
  // Two lines per sample at most; the header's count alone could be anything.
  table.values.reserve(size_t(std::min<long long>(samples, file.lines_left_at_most() / 2 + 1)) *
                       table.columns);

  for (long long sample = 1; sample <= samples; ++sample) {
    for (const bool is_outputs : {false, true}) {
      const int expected = is_outputs ? outputs : inputs;
      const char* const part = is_outputs ? "outputs" : "inputs";
      if (!file.next_content_line(/*skip_comments=*/false))
        file.fail_line(header_line,
                       "the header says " + count_of(samples, "sample") + " but the file ends after " +
                           std::to_string(sample - 1) +
                           (is_outputs ? " (sample " + std::to_string(sample) + " has no outputs line)"
                                       : std::string()));
      split_values(file.line(), values);
      if (values.size() != size_t(expected)) {
        const bool both_on_one_line = !is_outputs && values.size() == size_t(inputs + outputs);
        file.fail_line("sample " + std::to_string(sample) + "'s " + part + " line has " +
                       count_of(values.size(), "value") + ", but the header says " +
                       count_of(expected, is_outputs ? "output" : "input") +
                       (both_on_one_line ? " (inputs and outputs go on separate lines)" : ""));
      }
      for (const std::string_view value : values) table.values.push_back(file.number(value));
    }
  }
  table.rows = size_t(samples);
  if (file.next_content_line(/*skip_comments=*/false))
    file.fail_line("more data than the header's " + count_of(samples, "sample"));
  return table;
}

// FANN's first line is its header, three whole numbers separated by blanks; no CSV file starts so
// (a CSV line of three numbers has commas, and a one-column CSV line holds one number).
bool looks_like_fann(std::string_view first_line) {
  if (first_line.find(',') != std::string_view::npos) return false;
  std::vector<std::string_view> values;
  split_values(first_line, values);
  long long ignored = 0;
  return values.size() == 3 &&
         std::all_of(values.begin(), values.end(), [&](std::string_view v) { return parse_count(v, ignored); });
}

// .csv → CSV, .data → FANN, any other extension CSV; standard input has none, so its first line decides.
DataFormat format_of(const std::string& path, const TextFile& file) {
  if (is_standard_input(path)) return looks_like_fann(file.first_content_line()) ? DataFormat::fann : DataFormat::csv;
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return extension == ".data" ? DataFormat::fann : DataFormat::csv;
}

}  // namespace

DataFormat parse_data_format(const std::string& text) {
  if (text == "auto") return DataFormat::automatic;
  if (text == "csv") return DataFormat::csv;
  if (text == "fann" || text == "data") return DataFormat::fann;
  throw UsageError("--format must be auto, csv or fann, got " + in_quotes(text));
}

Table read_csv(const std::string& path, const std::vector<std::string>& keep) {
  TextFile file(path);
  return parse_csv(file, keep);
}

Table read_fann(const std::string& path) {
  TextFile file(path);
  return parse_fann(file);
}

Table read_table(const std::string& path, DataFormat format, const std::vector<std::string>& keep) {
  TextFile file(path);  // read once: standard input cannot be read again
  if (format == DataFormat::automatic) format = format_of(path, file);
  if (format == DataFormat::csv) return parse_csv(file, keep);
  if (!keep.empty())
    throw UsageError("--keep-columns: " + file.name() +
                     " is a FANN file, whose lines have no columns to keep (use CSV)");
  return parse_fann(file);
}

size_t share_start(size_t n, int rank, int ranks) {
  // n = q·R + m: ⌊n·r/R⌋ = q·r + ⌊m·r/R⌋, where m·r < R² fits
  return n / size_t(ranks) * size_t(rank) + n % size_t(ranks) * size_t(rank) / size_t(ranks);
}

ByteRange byte_range_of_rank(size_t file_bytes, int rank, int ranks) {
  return {share_start(file_bytes, rank, ranks), share_start(file_bytes, rank + 1, ranks)};
}

namespace {

// Where the first line starting at or after byte `at` starts: `at` itself where a line ends just
// before it (or at the file's start), else just after the next '\n' (the file's size where none).
size_t line_start_at_or_after(std::ifstream& in, size_t at, size_t file_bytes) {
  if (at == 0) return 0;
  if (at >= file_bytes) return file_bytes;
  in.clear();
  in.seekg(std::streamoff(at - 1));
  char c = 0;
  for (size_t position = at - 1; in.get(c); ++position)
    if (c == '\n') return position + 1;
  return file_bytes;
}

std::string read_bytes(std::ifstream& in, size_t begin, size_t end) {
  std::string text(end - begin, '\0');
  in.clear();
  in.seekg(std::streamoff(begin));
  in.read(text.data(), std::streamsize(text.size()));
  return text;
}

std::string part_name(const std::string& path, size_t begin, size_t end) {
  return path + " (bytes " + std::to_string(begin) + "-" + std::to_string(end) + ")";
}

bool has_content(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return !std::isspace(static_cast<unsigned char>(c)); });
}

// A FANN file's samples are two lines each after its header, so where a line starts a sample is known
// only by counting the content lines before it: the file is read as a stream up to the part's end
// (holding only the part), and the part's samples go after a header that counts them.
Table read_fann_rows_in(const std::string& path, std::ifstream& in, size_t file_bytes, ByteRange range) {
  in.clear();
  in.seekg(0);
  std::string line, header, kept;
  size_t position = 0, content_lines = 0, samples_kept = 0, samples_in_file = 0;
  long long declared = -1;
  bool in_range_sample = false;
  while (position < file_bytes && std::getline(in, line)) {
    const size_t line_start = position;
    position += line.size() + 1;
    if (!has_content(line)) continue;
    if (content_lines++ == 0) {
      header = line;
      std::vector<std::string_view> values;
      split_values(header, values);
      if (values.empty() || !parse_count(values[0], declared)) declared = -1;
      continue;
    }
    const bool inputs_line = (content_lines - 2) % 2 == 0;
    if (inputs_line) {
      ++samples_in_file;
      in_range_sample = line_start >= range.begin && line_start < range.end;
      if (in_range_sample) ++samples_kept;
      if (line_start >= range.end && range.end < file_bytes) break;  // (past the part: the rest is others')
    }
    if (in_range_sample) kept += line + "\n";
  }
  if (header.empty()) throw InputError(located(path, 0, 0, "no data rows"));
  std::vector<std::string_view> values;
  split_values(header, values);
  if (values.size() != 3) {  // the reader's own message for a header that is not one
    TextFile header_only(path, header + "\n");
    parse_fann(header_only);
  }
  // The part that reaches the file's end checks the header's count against the file's samples.
  if (range.end >= file_bytes && declared >= 0 && size_t(declared) != samples_in_file)
    throw InputError(located(path, 0, 0, "the header says " + count_of(declared, "sample") + " but the file has " +
                                             std::to_string(samples_in_file)));
  Table table;
  table.path = part_name(path, range.begin, range.end);
  if (samples_kept == 0) return table;
  // The part reads as a FANN file of its own: the header with the part's count, then its samples.
  std::string text = std::to_string(samples_kept) + " " + std::string(values[1]) + " " + std::string(values[2]) + "\n";
  TextFile file(table.path, text + kept);
  return parse_fann(file);
}

}  // namespace

Table read_table_rows_in(const std::string& path, DataFormat format, ByteRange range) {
  if (is_standard_input(path)) throw UsageError("a part of standard input cannot be read: give a file");
  std::error_code error;
  const size_t file_bytes = size_t(std::filesystem::file_size(path, error));
  std::ifstream in(path, std::ios::binary);
  if (error || !in) throw InputError(located(path, 0, 0, "cannot read the file"));
  if (file_bytes == 0) throw InputError(located(path, 0, 0, "the file is empty"));
  if (format == DataFormat::automatic) {
    const std::string extension = std::filesystem::path(path).extension().string();
    format = extension == ".data" || extension == ".DATA" ? DataFormat::fann : DataFormat::csv;
  }
  range.end = std::min(range.end, file_bytes);
  if (format == DataFormat::fann) return read_fann_rows_in(path, in, file_bytes, range);
  // CSV: the lines whose first byte is in the range, read from where they start (a seek).
  const size_t begin = line_start_at_or_after(in, range.begin, file_bytes);
  const size_t end = line_start_at_or_after(in, range.end, file_bytes);
  Table empty;
  empty.path = part_name(path, range.begin, range.end);
  if (begin >= end) return empty;
  std::string text = read_bytes(in, begin, end);
  // A part of header, comments and blank lines only holds no rows (the header goes with the first part).
  TextFile probe(empty.path, text);
  bool any_row = false;
  for (bool first = true; probe.next_content_line(true); first = false) {
    std::vector<std::string_view> fields;
    split_csv_fields(probe.line(), fields);
    if (!first || std::any_of(fields.begin(), fields.end(), looks_numeric)) {
      any_row = true;
      break;
    }
  }
  if (!any_row) return empty;
  TextFile file(empty.path, std::move(text));
  return parse_csv(file, {});
}

Dataset dataset_from_table(const Table& table, const NetworkSpec& spec, bool targets_optional) {
  const int n0 = spec.inputs(), nL = spec.outputs();
  int outputs = nL;
  if (table.declared_inputs >= 0) {
    // A FANN header says which columns are inputs: they must match the network, not just add up.
    if (table.declared_inputs != n0 || table.declared_outputs != nL)
      throw InputError(located(table.path, table.first_data_line, 0,
                               "the header says " + count_of(table.declared_inputs, "input") + " and " +
                                   count_of(table.declared_outputs, "output") + ", but the network " +
                                   spec.to_string() + " needs " + count_of(n0, "input") + " and " +
                                   count_of(nL, "output")));
  } else if (targets_optional && table.columns == n0) {
    outputs = 0;
  } else if (table.columns != n0 + nL) {
    throw InputError(located(table.path, table.first_data_line, 0,
                             count_of(table.columns, "column") + ", but the network " + spec.to_string() +
                                 " needs " + std::to_string(n0 + nL) + " (" + count_of(n0, "input") +
                                 " and " + count_of(nL, "target") + ")" +
                                 (targets_optional ? " or " + std::to_string(n0) + " (inputs only)" : "")));
  }

  Dataset d;
  d.name = table.path;
  d.inputs = n0;
  d.outputs = outputs;
  d.size = table.rows;
  d.x.resize(d.size * size_t(n0));  // n0 × N, column-major: one sample's inputs contiguous
  d.y.resize(d.size * size_t(outputs));
  const size_t columns = size_t(table.columns);
  for (size_t s = 0; s < d.size; ++s) {
    const float* row = table.values.data() + s * columns;
    std::copy_n(row, n0, d.x.data() + s * size_t(n0));
    std::copy_n(row + n0, outputs, d.y.data() + s * size_t(outputs));
  }
  return d;
}

}  // namespace sigtrain
