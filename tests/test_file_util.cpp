// write_file_atomically (util/file_util.h): what saving by rename does to the file it replaces. The CLI
// tests (CliSave.*) check the same promises through the program; these check the function itself,
// including what the CLI's early check cannot see: a file that became read-only during a long run.
#include <gtest/gtest.h>

#include "test_files.h"
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "util/errors.h"
#include "util/file_util.h"

namespace sigtrain {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir() { return testing::scratch_dir("file_util"); }
using testing::slurp;

fs::perms mode_of(const fs::path& path) { return fs::status(path).permissions() & fs::perms::all; }

// Catches a read-only file (no write bit for anyone) being replaced when it turned read-only after
// the run's early check: the write is refused with an InputError naming it, and the file is intact.
// Mode bits, not access() alone: for root access() allows everything.
TEST(WriteFileAtomically, RefusesAReadOnlyFileAndLeavesItAlone) {
  const fs::path dir = scratch_dir();
  const fs::path file = dir / "m.json";
  std::ofstream(file) << "old";
  fs::permissions(file, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  EXPECT_NE(why_not_writable(file.string()).find("read-only"), std::string::npos);
  try {
    write_file_atomically(file.string(), "new");
    ADD_FAILURE() << "a read-only file was replaced";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("read-only"), std::string::npos) << e.what();
  }
  EXPECT_EQ(slurp(file), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "a temporary was left";
}

// Catches the replaced file's mode being reset (0640 → 0644), and a new file not getting the
// documented 0644 (mkstemp's 0600 left in place).
TEST(WriteFileAtomically, KeepsAnExistingModeAndGivesANewFile0644) {
  const fs::path dir = scratch_dir();
  const fs::path old_file = dir / "old.json", new_file = dir / "new.json";
  std::ofstream(old_file) << "old";
  const fs::perms owner_rw_group_r = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;
  fs::permissions(old_file, owner_rw_group_r);
  write_file_atomically(old_file.string(), "new");
  write_file_atomically(new_file.string(), "new");
  EXPECT_EQ(slurp(old_file), "new");
  EXPECT_EQ(mode_of(old_file), owner_rw_group_r);
  EXPECT_EQ(mode_of(new_file), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                   fs::perms::others_read);
}

// Catches a chain of links (one relative, one absolute) being replaced by a file instead of followed to
// the file at its end, and a dangling link not creating the file it points to.
TEST(WriteFileAtomically, FollowsLinksToTheFileTheyNameAndKeepsThem) {
  const fs::path dir = scratch_dir();
  fs::create_directory(dir / "sub");
  const fs::path real = dir / "sub" / "real.json", middle = dir / "sub" / "middle.json", first = dir / "first.json";
  std::ofstream(real) << "old";
  fs::create_symlink("real.json", middle);  // relative to sub/
  fs::create_symlink(middle, first);        // absolute
  EXPECT_EQ(write_target(first.string()), real.string());
  write_file_atomically(first.string(), "new");
  EXPECT_TRUE(fs::is_symlink(first));
  EXPECT_TRUE(fs::is_symlink(middle));
  EXPECT_EQ(slurp(real), "new");

  const fs::path dangling = dir / "dangling.json";
  fs::create_symlink(fs::path("sub") / "made.json", dangling);
  write_file_atomically(dangling.string(), "made");
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(slurp(dir / "sub" / "made.json"), "made");
}

// Catches a loop of links sending the resolution round forever instead of failing with an InputError.
TEST(WriteFileAtomically, ALoopOfLinksIsAnError) {
  const fs::path dir = scratch_dir();
  fs::create_symlink("b.json", dir / "a.json");
  fs::create_symlink("a.json", dir / "b.json");
  EXPECT_THROW(write_file_atomically((dir / "a.json").string(), "x"), InputError);
}

// Catches a stream collected whole before it is written (saving a model held its ~22 bytes of text
// per number, issue 11 defect 9): while `write` is still running, all it put into the stream but at
// most one block is already in the temporary file beside the target.
TEST(WriteFileAtomically, WritesTheStreamToTheFileAsItGoes) {
  const fs::path dir = scratch_dir();
  const fs::path file = dir / "m.json";
  const std::string piece = "0.123456789, ";
  constexpr size_t kPieces = 100000;  // 1.3 MB, 20 blocks
  uintmax_t on_disk_while_writing = 0;
  write_file_atomically(file.string(), [&](std::ostream& out) {
    for (size_t k = 0; k < kPieces; ++k) out << piece;
    for (const auto& entry : fs::directory_iterator(dir)) on_disk_while_writing += fs::file_size(entry.path());
  });
  EXPECT_GE(on_disk_while_writing + kWriteBlockBytes, piece.size() * kPieces);
  const std::string written = slurp(file);
  ASSERT_EQ(written.size(), piece.size() * kPieces);
  for (size_t k = 0; k < kPieces; ++k) ASSERT_EQ(written.compare(k * piece.size(), piece.size(), piece), 0) << k;
}

// Catches a failed write() lost in the stream's buffer (the stream only turns bad, and the incomplete
// file is renamed into place): a file-size limit makes write() fail with EFBIG part-way. The save is
// an InputError giving the reason, the old file stays, and no temporary is left.
TEST(WriteFileAtomically, AFailedWriteIsAnErrorAndLeavesTheFile) {
  const fs::path dir = scratch_dir();
  const fs::path file = dir / "m.json";
  std::ofstream(file) << "old";
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  if (saved.rlim_cur != RLIM_INFINITY && saved.rlim_cur < 4 * kWriteBlockBytes) GTEST_SKIP() << "a lower limit is set";
  struct rlimit limited = saved;
  limited.rlim_cur = 4 * kWriteBlockBytes;
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);  // its default action ends the process
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_file_atomically(file.string(), [](std::ostream& out) {
      for (int k = 0; k < 100000; ++k) out << "0.123456789, ";  // 1.3 MB
    });
  } catch (const InputError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_EQ(message, file.string() + ": cannot write: " + std::strerror(EFBIG));
  EXPECT_EQ(slurp(file), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "a temporary was left";
}

// Catches a writer that stops with an exception half-way (the model writer meeting a NaN) having its
// partial file renamed into place or its temporary left: the exception passes on, the file stays.
TEST(WriteFileAtomically, AWriterThatThrowsLeavesTheFile) {
  const fs::path dir = scratch_dir();
  const fs::path file = dir / "m.json";
  std::ofstream(file) << "old";
  EXPECT_THROW(write_file_atomically(file.string(),
                                     [](std::ostream& out) {
                                       out << std::string(4 * kWriteBlockBytes, 'x');
                                       throw InputError("stopped");
                                     }),
               InputError);
  EXPECT_EQ(slurp(file), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1) << "a temporary was left";
}

}  // namespace
}  // namespace sigtrain
