// Tests of the CSV and FANN readers (host/data_files.h): good files read to the exact floats, and
// every kind of bad file gives one InputError line naming the file, line and column and the fault.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "data/data_files.h"
#include "util/errors.h"

namespace sigtrain {
namespace {

NetworkSpec spec_of(std::vector<int> widths) {
  NetworkSpec spec;
  spec.widths = std::move(widths);
  return spec;
}

// The message of the InputError `read` throws; a failure (and "") if it throws none. Any other
// exception escapes, which gtest reports as a failure too.
template <class Read>
std::string input_error(Read read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

// Whether `message` is one line of printable ASCII (no raw bytes from a binary file, no newline)
// containing every phrase.
::testing::AssertionResult says(const std::string& message, std::initializer_list<std::string> phrases) {
  for (const char c : message)
    if (c < 0x20 || c > 0x7E)
      return ::testing::AssertionFailure()
             << "unprintable byte " << int(static_cast<unsigned char>(c)) << " in: " << message;
  for (const std::string& phrase : phrases)
    if (message.find(phrase) == std::string::npos)
      return ::testing::AssertionFailure() << "'" << phrase << "' is not in: " << message;
  return ::testing::AssertionSuccess();
}

// Random nonzero floats of both signs over many magnitudes, so a reader that rounds, truncates or
// reorders values cannot pass by luck.
std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-60, 60);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> values(count);
  for (float& v : values) v = (negative(gen) ? -1 : 1) * std::ldexp(mantissa(gen), exponent(gen));
  return values;
}

// "%.9g" is enough digits to round-trip any float.
std::string digits(float v, const char* format = "%.9g") {
  char text[32];
  std::snprintf(text, sizeof text, format, double(v));
  return text;
}

// Each test gets its own empty folder under SIGTRAIN_TEST_TMPDIR.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(SIGTRAIN_TEST_TMPDIR) / "data_files" / info->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  std::string write(const std::string& name, const std::string& contents) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::filesystem::path dir_;
};

// ---- Good files -------------------------------------------------------------------------------

// Catches a CSV reader tripping over header, comments, blanks, CRLF, spaces, '+', 1e2 or a last line.
TEST_F(DataFiles, CsvReadsHeaderCommentsBlankLinesCrlfSpacesAndSigns) {
  const std::string path = write("good.csv",
                                 "# made by hand\r\n"
                                 "\r\n"
                                 "x1, x2 ,target\r\n"
                                 "  # an indented comment\r\n"
                                 "1.5,-2,+0.25\r\n"
                                 "\t3e2 ,  -4.5E-3,\t+1e+1\r\n"
                                 "   \r\n"
                                 ".5,5.,-0.0078125\r\n"
                                 "7,8,9");
  const Table table = read_csv(path);
  EXPECT_EQ(table.path, path);
  EXPECT_EQ(table.rows, 4u);
  EXPECT_EQ(table.columns, 3);
  EXPECT_EQ(table.first_data_line, 5);
  EXPECT_EQ(table.declared_inputs, -1);
  EXPECT_EQ(table.declared_outputs, -1);
  const std::vector<float> expected = {1.5f, -2.0f, 0.25f,       300.0f, -4.5e-3f, 10.0f,
                                       0.5f, 5.0f,  -0.0078125f, 7.0f,   8.0f,     9.0f};
  EXPECT_EQ(table.values, expected);
}

// Catches a reader that drops the first row when there is no header, or counts lines wrongly.
TEST_F(DataFiles, CsvWithoutHeaderKeepsTheFirstRow) {
  const Table table = read_csv(write("plain.csv", "\n1,2\n3,4\n"));
  EXPECT_EQ(table.rows, 2u);
  EXPECT_EQ(table.first_data_line, 2);
  EXPECT_EQ(table.values, (std::vector<float>{1, 2, 3, 4}));
}

// Catches Excel's UTF-8 byte order mark spoiling the first field, or UTF-8 column names taken as data.
TEST_F(DataFiles, CsvAcceptsByteOrderMarkAndUtf8Header) {
  const Table no_header = read_csv(write("bom.csv", "\xEF\xBB\xBF-1,2\n3,4\n"));
  EXPECT_EQ(no_header.first_data_line, 1);
  EXPECT_EQ(no_header.values, (std::vector<float>{-1, 2, 3, 4}));
  const Table utf8_header = read_csv(write("utf8.csv", "\xEF\xBB\xBFtemp\xC3\xA9rature,y\n-1,2\n"));
  EXPECT_EQ(utf8_header.first_data_line, 2);
  EXPECT_EQ(utf8_header.values, (std::vector<float>{-1, 2}));
}

// Catches a wrong overflow bound (FLT_MAX printed rounds up) or rejecting numbers that merely underflow.
TEST_F(DataFiles, CsvNumbersAtTheEdgesOfFloat) {
  const Table table =
      read_csv(write("edges.csv", "3.4028235e38,-3.40282347e+38,1e-40,1e-50,-1e-60,1.17549435e-38,0.1\n"));
  const std::vector<float> expected = {FLT_MAX, -FLT_MAX, 1e-40f, 0.0f, -0.0f, FLT_MIN, 0.1f};
  EXPECT_EQ(table.values, expected);
  EXPECT_TRUE(std::signbit(table.values[4]));
}

// Catches any loss of precision or reordering: random floats written with 9 digits come back exactly.
TEST_F(DataFiles, CsvRandomValuesRoundTripExactly) {
  const size_t rows = 2000, columns = 5;
  const std::vector<float> values = random_values(rows * columns, 20240601);
  std::string text = "a,b,c,d,e\n";
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < columns; ++c)
      text += digits(values[r * columns + c], c % 2 ? "%+.9g" : "%.9g") + (c + 1 < columns ? "," : "\n");
  const Table table = read_csv(write("random.csv", text));
  EXPECT_EQ(table.rows, rows);
  EXPECT_EQ(table.columns, int(columns));
  EXPECT_EQ(table.values, values);
}

// Catches a FANN reader mixing up inputs and outputs, tripping over blanks or tabs, or losing the shape.
TEST_F(DataFiles, FannReadsGoodFile) {
  const Table table = read_fann(write("good.data", "3 2 1\n0.5 -1\n0.25\n\n1e-3\t+2\n-4\n  7 8  \r\n9\n\n"));
  EXPECT_EQ(table.rows, 3u);
  EXPECT_EQ(table.columns, 3);
  EXPECT_EQ(table.declared_inputs, 2);
  EXPECT_EQ(table.declared_outputs, 1);
  EXPECT_EQ(table.first_data_line, 1);
  EXPECT_EQ(table.values, (std::vector<float>{0.5f, -1.0f, 0.25f, 1e-3f, 2.0f, -4.0f, 7.0f, 8.0f, 9.0f}));
}

// Catches the readers or dataset_from_table disagreeing on layout: same samples, same Dataset, both ways.
TEST_F(DataFiles, FannAndCsvGiveTheSameDataset) {
  const int n0 = 3, nL = 2;
  const size_t samples = 50;
  const std::vector<float> values = random_values(samples * (n0 + nL), 7);
  std::string csv = "x1,x2,x3,y1,y2\n";
  std::string fann = std::to_string(samples) + " 3 2\n";
  for (size_t s = 0; s < samples; ++s) {
    for (int c = 0; c < n0 + nL; ++c) {
      const std::string value = digits(values[s * (n0 + nL) + c]);
      csv += value + (c + 1 < n0 + nL ? "," : "\n");
      fann += value + (c + 1 == n0 || c + 1 == n0 + nL ? "\n" : " ");
    }
  }
  const NetworkSpec spec = spec_of({n0, 4, nL});
  const std::string csv_path = write("same.csv", csv), fann_path = write("same.data", fann);
  const Dataset from_csv = dataset_from_table(read_table(csv_path), spec);
  const Dataset from_fann = dataset_from_table(read_table(fann_path), spec);
  EXPECT_EQ(from_csv.name, csv_path);
  EXPECT_EQ(from_fann.name, fann_path);
  for (const Dataset* d : {&from_csv, &from_fann}) {
    EXPECT_EQ(d->inputs, n0);
    EXPECT_EQ(d->outputs, nL);
    ASSERT_EQ(d->size, samples);
    for (size_t s = 0; s < samples; ++s) {
      for (int i = 0; i < n0; ++i) EXPECT_EQ(d->x_of(s)[i], values[s * (n0 + nL) + i]);
      for (int k = 0; k < nL; ++k) EXPECT_EQ(d->y_of(s)[k], values[s * (n0 + nL) + n0 + k]);
    }
  }
  EXPECT_EQ(from_csv.x, from_fann.x);
  EXPECT_EQ(from_csv.y, from_fann.y);
}

// Catches a predict-style file (inputs only) being refused with targets_optional, or accepted without.
TEST_F(DataFiles, InputsOnlyTableNeedsTargetsOptional) {
  const std::string path = write("inputs.csv", "x1,x2\n0.5,-1\n2,3\n");
  const Table table = read_csv(path);
  const NetworkSpec net = spec_of({2, 3, 1});
  const Dataset d = dataset_from_table(table, net, /*targets_optional=*/true);
  EXPECT_EQ(d.inputs, 2);
  EXPECT_EQ(d.outputs, 0);
  EXPECT_EQ(d.size, 2u);
  EXPECT_EQ(d.x, (std::vector<float>{0.5f, -1.0f, 2.0f, 3.0f}));
  EXPECT_TRUE(d.y.empty());
  EXPECT_TRUE(says(input_error([&] { dataset_from_table(table, net); }),
                   {path + ":2: 2 columns, but the network 2-3-1 needs 3 (2 inputs and 1 target)"}));
  // With targets optional, a full table still gets its targets.
  const Dataset full = dataset_from_table(read_csv(write("full.csv", "1,2,3\n")), net, true);
  EXPECT_EQ(full.outputs, 1);
  EXPECT_EQ(full.y, (std::vector<float>{3}));
}

// Catches read_table picking the wrong reader (.data is FANN, else CSV; an explicit format wins).
TEST_F(DataFiles, ReadTableChoosesByExtensionOrFormat) {
  const std::string fann_text = "1 1 1\n2\n3\n", csv_text = "2,3\n";
  EXPECT_EQ(read_table(write("a.data", fann_text)).declared_inputs, 1);
  EXPECT_EQ(read_table(write("b.DATA", fann_text)).declared_inputs, 1);
  EXPECT_EQ(read_table(write("c.txt", fann_text), DataFormat::fann).declared_inputs, 1);
  EXPECT_EQ(read_table(write("d.csv", csv_text)).declared_inputs, -1);
  EXPECT_EQ(read_table(write("e.txt", csv_text)).declared_inputs, -1);
  const Table csv_as_data = read_table(write("f.data", csv_text), DataFormat::csv);
  EXPECT_EQ(csv_as_data.values, (std::vector<float>{2, 3}));
  EXPECT_TRUE(says(input_error([&] { read_table(write("g.data", csv_text)); }),
                   {"g.data:1: the FANN header must be", "--format csv"}));
}

// Catches --format accepting a typo, or a message that does not say what is allowed.
TEST(DataFormatName, ParsesTheFourNamesOnly) {
  EXPECT_EQ(parse_data_format("auto"), DataFormat::automatic);
  EXPECT_EQ(parse_data_format("csv"), DataFormat::csv);
  EXPECT_EQ(parse_data_format("fann"), DataFormat::fann);
  EXPECT_EQ(parse_data_format("data"), DataFormat::fann);
  try {
    parse_data_format("CSV ");
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--format must be auto, csv or fann, got 'CSV '");
  }
}

// ---- Bad files: every one is an InputError naming the file (and line and column) ---------------

// Catches a missing file crashing or being read as empty.
TEST_F(DataFiles, MissingFileCannotBeOpened) {
  const std::string path = (dir_ / "nothing.csv").string();
  EXPECT_TRUE(
      says(input_error([&] { read_csv(path); }), {path + ": cannot open: No such file or directory"}));
  EXPECT_TRUE(says(input_error([&] { read_table((dir_ / "nothing.data").string()); }), {"cannot open"}));
}

// Catches a directory given as the data file being read as an empty file.
TEST_F(DataFiles, DirectoryCannotBeRead) {
  EXPECT_TRUE(says(input_error([&] { read_csv(dir_.string()); }), {dir_.string() + ": cannot open: Is a directory"}));
}

// Catches an empty file being taken as a data set of zero samples.
TEST_F(DataFiles, EmptyFileIsAnError) {
  const std::string csv = write("empty.csv", ""), fann = write("empty.data", "");
  EXPECT_EQ(input_error([&] { read_csv(csv); }), csv + ": the file is empty");
  EXPECT_EQ(input_error([&] { read_fann(fann); }), fann + ": the file is empty");
}

// Catches a file of only a header, comments or blank lines being taken as zero samples.
TEST_F(DataFiles, FileWithoutDataRowsIsAnError) {
  const std::string header_only = write("header.csv", "x,y\n# nothing else\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(header_only); }), {header_only + ": no data rows", "line 1"}));
  const std::string comments = write("comments.csv", "# a\n\n   # b\r\n\t\n");
  EXPECT_EQ(input_error([&] { read_csv(comments); }), comments + ": no data rows");
  const std::string blank_fann = write("blank.data", "\n \n");
  EXPECT_EQ(input_error([&] { read_fann(blank_fann); }), blank_fann + ": no data rows");
}

// Catches a non-numeric field being skipped, read as 0, or reported at the wrong line or column.
TEST_F(DataFiles, CsvNonNumericFieldNamesLineAndColumn) {
  const std::string path = write("text.csv", "1,2,3\n4, abc ,6\n");
  EXPECT_EQ(input_error([&] { read_csv(path); }), path + ":2:4: 'abc' is not a number");
  // A first line with some numeric fields is data, not a header.
  const std::string mixed = write("mixed.csv", "1,x,2\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(mixed); }), {mixed + ":1:3: 'x' is not a number", "header"}));
  // Semicolons: the whole line is one field; the first line is then a header, the second fails.
  const std::string semicolons = write("semicolons.csv", "1;2\n3;4\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(semicolons); }),
                   {semicolons + ":2:1: '3;4' is not a number", "separated by commas"}));
  const std::string quotes = write("quotes.csv", "\"1\",2\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(quotes); }), {quotes + ":1:1:", "quoted fields"}));
}

// Catches a ragged row being padded, truncated or accepted, or a message without the counts.
TEST_F(DataFiles, CsvRaggedRowNamesLineAndCounts) {
  const std::string short_row = write("short.csv", "1,2,3\n4,5,6\n\n7,8\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(short_row); }),
                   {short_row + ":4:", "2 fields", "expected 3", "line 1"}));
  const std::string long_row = write("long.csv", "# c\n1,2\n3,4,5\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(long_row); }), {long_row + ":3:", "3 fields", "expected 2"}));
  const std::string header = write("header.csv", "a,b\n1,2,3\n");
  EXPECT_TRUE(
      says(input_error([&] { read_csv(header); }), {header + ":2:", "3 fields", "header (line 1) has 2"}));
}

// Catches empty fields being read as 0 (a trailing comma would add a column of zeros).
TEST_F(DataFiles, CsvEmptyFieldsAndTrailingComma) {
  const std::string trailing = write("trailing.csv", "1,2,\n");
  EXPECT_EQ(input_error([&] { read_csv(trailing); }), trailing + ":1:5: empty field after a trailing comma");
  const std::string middle = write("middle.csv", "0,0,0\n1,,3\n");
  EXPECT_EQ(input_error([&] { read_csv(middle); }), middle + ":2:3: empty field");
  const std::string spaces = write("spaces.csv", "1, \t ,3\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(spaces); }), {spaces + ":1:", "empty field"}));
}

// Catches NaN or Inf in any spelling getting into training, where it would poison every weight.
TEST_F(DataFiles, CsvRejectsNanAndInf) {
  for (const std::string value : {"nan", "-NaN", "nan(123)", "inf", "-Infinity", "+INF"}) {
    const std::string path = write("nonfinite.csv", "1,2\n3," + value + "\n");
    EXPECT_EQ(input_error([&] { read_csv(path); }), path + ":2:3: '" + value + "' is not a finite number");
  }
}

// Catches numbers beyond float's range becoming inf (or FLT_MAX) silently.
TEST_F(DataFiles, CsvRejectsNumbersTooLargeForFloat) {
  for (const std::string value : {"1e39", "1e400", "-3.5e38", "3.40282357e38"}) {
    const std::string path = write("overflow.csv", "1,2\n3," + value + "\n");
    EXPECT_EQ(input_error([&] { read_csv(path); }), path + ":2:3: '" + value + "' is out of range for float");
  }
}

// Catches a number parser that accepts only a prefix of the field, or more than one sign.
TEST_F(DataFiles, CsvRejectsMalformedNumbers) {
  for (const std::string value : {"++1", "+-1", "+", "-", "--1", "0x10", "1e", "1.5abc", "1 2", "1..2"}) {
    const std::string path = write("malformed.csv", "1,2\n3," + value + "\n");
    EXPECT_TRUE(says(input_error([&] { read_csv(path); }), {path + ":2:3: '" + value + "' is not a number"}));
  }
}

// Catches a binary file crashing the reader or putting raw bytes (NUL, 0xFF, newlines) in the message.
TEST_F(DataFiles, BinaryGarbageGivesOneCleanLine) {
  const std::string nul = write("nul.csv", std::string("1,2\n3,\0\xFF\n", 9));
  EXPECT_EQ(input_error([&] { read_csv(nul); }), nul + ":2:3: not a text file (byte 0x00)");
  const std::string fann_nul = write("nul.data", std::string("1 1 1\n\x01\0\n1\n", 11));
  EXPECT_EQ(input_error([&] { read_fann(fann_nul); }), fann_nul + ":2:1: not a text file (byte 0x01)");
  // Bytes that are not controls reach the number parser and are shown escaped.
  const std::string high = write("high.csv", "1,2\n3,\xFF\xFE\x80\n");
  EXPECT_EQ(input_error([&] { read_csv(high); }), high + ":2:3: '\\xff\\xfe\\x80' is not a number");
  const std::string stray_cr = write("cr.csv", "1,2\r3,4\n");
  EXPECT_TRUE(says(input_error([&] { read_csv(stray_cr); }), {stray_cr + ":1:4: carriage return"}));
  const char utf16_bytes[] = {'\xFF', '\xFE', '1', '\0', ',', '\0', '2', '\0'};  // "1,2" in UTF-16LE
  const std::string utf16 = write("utf16.csv", std::string(utf16_bytes, sizeof utf16_bytes));
  EXPECT_TRUE(says(input_error([&] { read_csv(utf16); }), {utf16 + ": ", "UTF-16"}));
  // Random bytes, NUL and 0xFF included, through both readers.
  std::mt19937 gen(99);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = char(gen() & 0xFF);
  garbage[0] = '\0';
  garbage[1] = '\xFF';
  for (const std::string name : {"garbage.csv", "garbage.data"}) {
    const std::string path = write(name, garbage);
    EXPECT_TRUE(says(input_error([&] { read_table(path); }), {path + ":1:1: not a text file (byte 0x00)"}));
  }
}

// Catches a FANN reader that trusts the header's count when the body is shorter.
TEST_F(DataFiles, FannHeaderCountLargerThanBody) {
  const std::string path = write("short.data", "3 1 1\n1\n2\n3\n4\n\n");
  EXPECT_EQ(input_error([&] { read_fann(path); }),
            path + ":1: the header says 3 samples but the file ends after 2");
  const std::string half = write("half.data", "2 1 1\n1\n2\n3\n");
  EXPECT_TRUE(says(input_error([&] { read_fann(half); }),
                   {half + ":1: the header says 2 samples but the file ends after 1", "no outputs line"}));
}

// Catches a FANN reader that silently ignores samples beyond the header's count.
TEST_F(DataFiles, FannHeaderCountSmallerThanBody) {
  const std::string path = write("long.data", "1 1 1\n1\n2\n\n3\n4\n");
  EXPECT_EQ(input_error([&] { read_fann(path); }), path + ":5: more data than the header's 1 sample");
}

// Catches lines with too few or too many values being merged into the next sample.
TEST_F(DataFiles, FannWrongNumberOfValuesOnALine) {
  const std::string inputs = write("inputs.data", "2 2 1\n1 2\n3\n4\n5\n");
  EXPECT_EQ(input_error([&] { read_fann(inputs); }),
            inputs + ":4: sample 2's inputs line has 1 value, but the header says 2 inputs");
  const std::string outputs = write("outputs.data", "1 2 1\n1 2\n3 4\n");
  EXPECT_EQ(input_error([&] { read_fann(outputs); }),
            outputs + ":3: sample 1's outputs line has 2 values, but the header says 1 output");
  const std::string one_line = write("one_line.data", "1 2 1\n1 2 3\n");
  EXPECT_TRUE(says(input_error([&] { read_fann(one_line); }),
                   {one_line + ":2: sample 1's inputs line", "separate lines"}));
}

// Catches a malformed FANN header being half-read (e.g. "2.5" as 2, "-1" as huge, 0 as allowed).
TEST_F(DataFiles, FannMalformedHeader) {
  const struct {
    const char* text;
    const char* phrase;
  } cases[] = {
      {"2 1\n",
       ":1: the FANN header must be 'count inputs outputs' (three whole numbers), but this line has 2 "
       "values"},
      {"2 1 1 1\n", ":1: the FANN header must be"},
      {"2.5 1 1\n",
       ":1:1: the FANN header must be 'count inputs outputs' (three whole numbers), but '2.5' is not"},
      {"1 -1 1\n", ":1:3: the FANN header must be"},
      {"x y z\n", ":1:1: the FANN header must be"},
      {"0 1 1\n", ":1:1: the FANN header says 0 samples"},
      {"1 0 1\n", ":1:3: the FANN header says 0 inputs"},
      {"1 1  0\n", ":1:6: the FANN header says 0 outputs"},
      {"1 70000 1\n", ":1:3: the FANN header says 70000 inputs, more than the widest layer"},
  };
  for (const auto& c : cases) {
    const std::string path = write("header.data", c.text);
    EXPECT_TRUE(says(input_error([&] { read_fann(path); }), {path + c.phrase})) << c.text;
  }
}

// Catches FANN values bypassing the number rules CSV applies.
TEST_F(DataFiles, FannValuesFollowTheNumberRules) {
  const std::string text = write("text.data", "1 2 1\n0.5  abc\n1\n");
  EXPECT_EQ(input_error([&] { read_fann(text); }), text + ":2:6: 'abc' is not a number");
  const std::string nan = write("nan.data", "1 1 1\n1\n\tnan\n");
  EXPECT_EQ(input_error([&] { read_fann(nan); }), nan + ":3:2: 'nan' is not a finite number");
  const std::string big = write("big.data", "1 1 1\n1e39\n1\n");
  EXPECT_EQ(input_error([&] { read_fann(big); }), big + ":2:1: '1e39' is out of range for float");
}

// Catches a table that does not fit the network being split anyway, targets shifted into inputs.
TEST_F(DataFiles, ColumnsMustMatchTheNetwork) {
  const Table csv = read_csv(write("data.csv", "a,b,c,d\n1,2,3,4\n"));
  const NetworkSpec net = spec_of({2, 3, 3, 1});
  EXPECT_EQ(input_error([&] { dataset_from_table(csv, net); }),
            csv.path + ":2: 4 columns, but the network 2-3-3-1 needs 3 (2 inputs and 1 target)");
  EXPECT_TRUE(says(input_error([&] { dataset_from_table(csv, net, true); }),
                   {csv.path + ":2: 4 columns", "or 2 (inputs only)"}));
  const Table fann = read_fann(write("data.data", "1 3 1\n1 2 3\n4\n"));
  const NetworkSpec two_outputs = spec_of({2, 5, 2}), three_inputs = spec_of({3, 2});
  EXPECT_EQ(input_error([&] { dataset_from_table(fann, two_outputs); }),
            fann.path +
                ":1: the header says 3 inputs and 1 output, but the network 2-5-2 needs 2 inputs and "
                "2 outputs");
  EXPECT_TRUE(says(input_error([&] { dataset_from_table(fann, three_inputs, true); }),
                   {fann.path + ":1:", "needs 3 inputs and 2 outputs"}));
}

// ---- Standard input ("-") ---------------------------------------------------------------------

// This process's standard input replaced by `path` while it lives (the readers read fd 0 for "-").
class StandardInputFrom {
 public:
  explicit StandardInputFrom(const std::string& path) : saved_(dup(STDIN_FILENO)) {
    const int fd = open(path.c_str(), O_RDONLY);
    EXPECT_TRUE(fd >= 0 && saved_ >= 0 && dup2(fd, STDIN_FILENO) == STDIN_FILENO) << path;
    if (fd >= 0) close(fd);
  }
  ~StandardInputFrom() {
    dup2(saved_, STDIN_FILENO);
    close(saved_);
  }
  StandardInputFrom(const StandardInputFrom&) = delete;
  StandardInputFrom& operator=(const StandardInputFrom&) = delete;

 private:
  int saved_;
};

// Catches "-" opened as a file named "-", standard input read twice (it cannot be re-read) or only in
// part, a table that differs from the same text read from a file, the format chosen wrongly without an
// extension to go by (a FANN header is three whole numbers on the first line; a one-column CSV or a CSV
// row of three whole numbers is still CSV), or --format not winning.
TEST_F(DataFiles, StandardInputReadsAsTheSameTextFromAFile) {
  const std::vector<float> values = random_values(3 * 500, 31);
  std::string csv_text = "# a comment\nx1,x2,y\n", fann_text = "500 2 1\n";
  for (size_t r = 0; r < 500; ++r) {
    csv_text += digits(values[3 * r]) + "," + digits(values[3 * r + 1]) + "," + digits(values[3 * r + 2]) + "\n";
    fann_text += digits(values[3 * r]) + " " + digits(values[3 * r + 1]) + "\n" + digits(values[3 * r + 2]) + "\n";
  }
  struct Case {
    std::string name, text;
    DataFormat format;
    Table from_file;
  };
  const std::vector<Case> cases = {
      {"csv", csv_text, DataFormat::automatic, read_csv(write("a.csv", csv_text))},
      {"fann", fann_text, DataFormat::automatic, read_fann(write("a.data", fann_text))},
      {"one column", "5\n6\n", DataFormat::automatic, read_csv(write("b.csv", "5\n6\n"))},
      {"three whole numbers", "3,2,1\n4,5,6\n", DataFormat::automatic, read_csv(write("c.csv", "3,2,1\n4,5,6\n"))},
      {"fann forced", "1 1 1\n2\n3\n", DataFormat::fann, read_fann(write("d.data", "1 1 1\n2\n3\n"))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const StandardInputFrom input(write("stdin.txt", c.text));
    const Table table = read_table("-", c.format);
    EXPECT_EQ(table.path, "standard input");
    EXPECT_EQ(table.rows, c.from_file.rows);
    EXPECT_EQ(table.columns, c.from_file.columns);
    EXPECT_EQ(table.first_data_line, c.from_file.first_data_line);
    EXPECT_EQ(table.declared_inputs, c.from_file.declared_inputs);
    EXPECT_EQ(table.declared_outputs, c.from_file.declared_outputs);
    EXPECT_EQ(table.values, c.from_file.values);
  }
  // A FANN text forced to CSV is read as CSV (and fails as CSV does).
  const StandardInputFrom input(write("stdin.txt", fann_text));
  EXPECT_TRUE(says(input_error([] { read_table("-", DataFormat::csv); }), {"standard input:2:"}));
}

// Catches a message about standard input that names a file "-" (or none), or loses the line and column.
TEST_F(DataFiles, StandardInputErrorsSayStandardInputLineAndColumn) {
  {
    const StandardInputFrom input(write("stdin.txt", "x1,x2,y\n1,2,3\n4,abc,6\n"));
    EXPECT_EQ(input_error([] { read_table("-"); }), "standard input:3:3: 'abc' is not a number");
  }
  {
    const StandardInputFrom input(write("stdin.txt", ""));
    EXPECT_EQ(input_error([] { read_table("-"); }), "standard input: no data (it is empty)");
  }
  {
    const StandardInputFrom input(write("stdin.txt", "2 1 1\n0.5\n"));
    EXPECT_TRUE(says(input_error([] { read_table("-"); }), {"standard input:1: the header says 2 samples"}));
  }
  const StandardInputFrom input(write("stdin.txt", "1,2\n"));
  const Table table = read_table("-");
  EXPECT_EQ(input_error([&] { dataset_from_table(table, spec_of({2, 3, 1})); }),
            "standard input:1: 2 columns, but the network 2-3-1 needs 3 (2 inputs and 1 target)");
}

// ---- Kept columns (predict --keep-columns) ----------------------------------------------------

// The message of the UsageError `read` throws; a failure (and "") if it throws none.
template <class Read>
std::string usage_error(Read read) {
  try {
    read();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return "";
}

// Catches kept columns read as numbers (text IDs refused, "007" or "-0.50" rewritten), left among the
// values (shifting the inputs), kept in file order rather than the order asked for, names taken from
// the wrong header field, or the blanks around a field kept.
TEST_F(DataFiles, KeptColumnsPassThroughAsTextInTheOrderAsked) {
  const std::string path = write("ids.csv",
                                 "id, x1 ,label,x2,y\n"
                                 "007,0.5,a b,-1,0.25\n"
                                 "-0.50, 2 ,\xC3\xA9t\xC3\xA9 , 3,4\n");
  const Table table = read_csv(path, {"3", "id"});
  EXPECT_EQ(table.rows, 2u);
  EXPECT_EQ(table.columns, 3);
  EXPECT_EQ(table.values, (std::vector<float>{0.5f, -1, 0.25f, 2, 3, 4}));
  EXPECT_EQ(table.kept_columns, (std::vector<int>{2, 0}));
  EXPECT_EQ(table.kept_names, (std::vector<std::string>{"label", "id"}));
  EXPECT_EQ(table.kept_text, (std::vector<std::string>{"a b", "007", "\xC3\xA9t\xC3\xA9", "-0.50"}));
  // Without a header the columns go by number, named "columnN" for predict's header line.
  const Table plain = read_table(write("plain.csv", "1,2,3\n4,5,6\n"), DataFormat::automatic, {"2"});
  EXPECT_EQ(plain.values, (std::vector<float>{1, 3, 4, 6}));
  EXPECT_EQ(plain.kept_names, (std::vector<std::string>{"column2"}));
  EXPECT_EQ(plain.kept_text, (std::vector<std::string>{"2", "5"}));
}

// Catches a bad --keep-columns being accepted (a column past the last, 0, a name that is not in the
// header or with no header at all, the same column twice, every column, FANN data) or reported as a
// data error (exit 1) rather than the flag's (exit 2), or without the file's name.
TEST_F(DataFiles, KeptColumnsThatDoNotExistAreUsageErrors) {
  const std::string named = write("named.csv", "id,x1,x2\n1,2,3\n"), plain = write("plain.csv", "1,2,3\n");
  EXPECT_EQ(usage_error([&] { read_csv(named, {"4"}); }), "--keep-columns: column 4 is out of range: " + named + " has 3 columns");
  EXPECT_EQ(usage_error([&] { read_csv(named, {"0"}); }), "--keep-columns: column 0 is out of range: " + named + " has 3 columns");
  EXPECT_TRUE(says(usage_error([&] { read_csv(named, {"99999999999999999999"}); }), {"out of range"}));
  EXPECT_EQ(usage_error([&] { read_csv(named, {"ID"}); }), "--keep-columns: " + named + " has no column named 'ID'");
  EXPECT_TRUE(says(usage_error([&] { read_csv(plain, {"id"}); }), {"'id' is not a column number", plain, "no header"}));
  EXPECT_TRUE(says(usage_error([&] { read_csv(named, {"1", "id"}); }), {"given twice"}));
  EXPECT_TRUE(says(usage_error([&] { read_csv(plain, {"1", "2", "3"}); }), {"every column", "no inputs"}));
  EXPECT_TRUE(says(usage_error([&] { read_table(write("a.data", "1 1 1\n2\n3\n"), DataFormat::automatic, {"1"}); }),
                   {"FANN"}));
}

}  // namespace
}  // namespace sigtrain
