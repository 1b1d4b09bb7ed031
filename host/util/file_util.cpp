#include "util/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "util/errors.h"

namespace sigtrain {

namespace {

// Closes a file descriptor on every path out of a scope, so errors thrown half-way leak nothing.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports close()'s own error: for a written file a late write-back failure (NFS,
  // a full disk) may only show up here.
  int close() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

// The temporary file beside the target; removed again unless committed by renaming it into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string name) : name_(std::move(name)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!committed_) ::unlink(name_.c_str());
  }
  const std::string& name() const { return name_; }
  void commit() { committed_ = true; }

 private:
  std::string name_;
  bool committed_ = false;
};

// write() may write less than asked (signals, pipes, quotas), so loop until all of it is out.
bool write_all(int fd, const std::string& contents) {
  const char* data = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += written;
    left -= size_t(written);
  }
  return true;
}

// After rename() the new directory entry is durable only once the directory itself is synced. Best
// effort: the file is already in place, so a failure here is no reason to report the write as failed.
void sync_parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  FileDescriptor dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
}

}  // namespace

std::string read_file(const std::string& path) {
  const auto fail = [&path](const char* action, int error) {
    return InputError(located(path, 0, 0, std::string(action) + ": " + std::strerror(error)));
  };
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw fail("cannot open", errno);
  // open() succeeds on a directory; read() would then fail with a less clear message.
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) throw fail("cannot open", errno);
  if (S_ISDIR(info.st_mode)) throw fail("cannot open", EISDIR);

  std::string contents;
  if (S_ISREG(info.st_mode)) contents.reserve(size_t(info.st_size));
  // Read until end of file rather than trusting st_size: pipes and /proc files report 0.
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw fail("cannot read", errno);
    }
    if (got == 0) break;
    contents.append(buffer, size_t(got));
  }
  return contents;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  const auto fail = [&path](int error) {
    return InputError(located(path, 0, 0, std::string("cannot write: ") + std::strerror(error)));
  };
  // Same directory as `path`, so that rename() stays within one file system and is atomic.
  std::string name_template = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(name_template.data());
  if (fd < 0) throw fail(errno);  // e.g. the directory does not exist: nothing was created
  FileDescriptor file(fd);
  TemporaryFile temporary(name_template);

  // mkstemp creates the file 0600; a model file is meant to be readable like any other output. A fixed
  // 0644 rather than one derived from the umask: reading the umask means changing it, which is not
  // thread-safe.
  if (::fchmod(file.get(), 0644) != 0) throw fail(errno);
  if (!write_all(file.get(), contents)) throw fail(errno);
  // fsync before rename: otherwise a crash can leave `path` renamed to a file whose data never reached
  // the disk, i.e. an empty or partial model where the old one used to be.
  if (::fsync(file.get()) != 0) throw fail(errno);
  if (file.close() != 0) throw fail(errno);
  if (std::rename(temporary.name().c_str(), path.c_str()) != 0) throw fail(errno);
  temporary.commit();
  sync_parent_directory(path);
}

}  // namespace sigtrain
