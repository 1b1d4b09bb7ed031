#include "util/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <streambuf>
#include <vector>

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
bool write_all(int fd, const char* data, size_t left) {
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

// A stream buffer that writes to a file descriptor each time kWriteBlockBytes have been put, so that a
// file is never held whole. A failed write() is kept (error()) and refuses all later output, which
// makes the stream bad; it throws nothing (a stream would swallow it).
class FileDescriptorBuffer : public std::streambuf {
 public:
  explicit FileDescriptorBuffer(int fd) : fd_(fd), block_(kWriteBlockBytes) { reset_block(); }
  // errno of the first failed write(), 0 while none failed.
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!write_block()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return write_block() ? 0 : -1; }

 private:
  void reset_block() { setp(block_.data(), block_.data() + block_.size()); }
  bool write_block() {
    if (error_ != 0) return false;
    if (!write_all(fd_, pbase(), size_t(pptr() - pbase()))) {
      error_ = errno;
      return false;
    }
    reset_block();
    return true;
  }

  int fd_;
  int error_ = 0;
  std::vector<char> block_;
};

// Runs `write` on a stream into `fd` and writes out what is left in its block; the errno of a failed
// write (EIO where the stream failed without one), 0 when all of it was written.
int write_stream(int fd, const std::function<void(std::ostream&)>& write) {
  FileDescriptorBuffer buffer(fd);
  std::ostream out(&buffer);
  write(out);
  out.flush();
  if (buffer.error() != 0) return buffer.error();
  return out ? 0 : EIO;
}

// The folder a file lives in: "." for a bare name, "/" for a file at the root.
std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// `path` for messages, with the file it stands for where that differs (a symbolic link).
std::string name_with_target(const std::string& path, const std::string& target) {
  return target == path ? path : path + " (a link to " + target + ")";
}

// A file nobody may write to (chmod 444) is one its owner wants kept: rename() would replace it anyway
// (it needs only the folder's permission), so refuse. The mode bits are looked at as well as access(),
// because for root access() grants everything.
bool read_only(const std::string& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  return (info.st_mode & 0222) == 0 || ::access(file.c_str(), W_OK) != 0;
}

// After rename() the new directory entry is durable only once the directory itself is synced. Best
// effort: the file is already in place, so a failure here is no reason to report the write as failed.
void sync_parent_directory(const std::string& path) {
  FileDescriptor dir(::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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

std::string write_target(const std::string& path) {
  namespace fs = std::filesystem;
  constexpr int kMostLinks = 40;  // as the kernel's own limit (ELOOP)
  fs::path target(path);
  for (int links = 0; links <= kMostLinks; ++links) {
    std::error_code error;
    if (!fs::is_symlink(fs::symlink_status(target, error))) return target.string();
    const fs::path next = fs::read_symlink(target, error);
    if (error) throw InputError(located(path, 0, 0, "cannot write: cannot read the link " + target.string() + ": " + error.message()));
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  throw InputError(located(path, 0, 0, std::string("cannot write: ") + std::strerror(ELOOP)));
}

std::string why_not_writable(const std::string& path) {
  const std::string target = write_target(path);
  const std::string name = name_with_target(path, target);
  struct stat info {};
  if (::stat(target.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) return name + ": is a folder";
  const std::string folder = folder_of(target);
  if (::stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return name + ": the folder " + folder + " does not exist";
  if (::access(folder.c_str(), W_OK) != 0) return name + ": the folder " + folder + " is not writable";
  if (read_only(target)) return name + ": the file is read-only; make it writable (chmod u+w) or write elsewhere";
  return "";
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(
      path, [&contents](std::ostream& out) { out.write(contents.data(), std::streamsize(contents.size())); });
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string target = write_target(path);
  const auto fail = [&](int error) {
    return InputError(located(name_with_target(path, target), 0, 0, std::string("cannot write: ") + std::strerror(error)));
  };
  if (read_only(target)) throw InputError(why_not_writable(path));
  // Same directory as the target, so that rename() stays within one file system and is atomic.
  std::string name_template = target + ".tmp.XXXXXX";
  const int fd = ::mkstemp(name_template.data());
  if (fd < 0) throw fail(errno);  // e.g. the directory does not exist: nothing was created
  FileDescriptor file(fd);
  TemporaryFile temporary(name_template);

  // The replaced file's mode and owner carry over (a model kept 0600 stays 0600). Changing the owner
  // needs privileges most processes lack: best effort, the file is still written. A new file gets a
  // fixed 0644 (mkstemp makes 0600; a model is meant to be readable like any other output) rather
  // than one derived from the umask: reading the umask means changing it, which is not thread-safe.
  mode_t mode = 0644;
  struct stat existing {};
  if (::stat(target.c_str(), &existing) == 0) {
    mode = existing.st_mode & 07777;
    if ((existing.st_uid != ::geteuid() || existing.st_gid != ::getegid()) &&
        ::fchown(file.get(), existing.st_uid, existing.st_gid) != 0) {
      // not allowed: the file keeps this process's owner
    }
  }
  if (::fchmod(file.get(), mode) != 0) throw fail(errno);
  if (const int error = write_stream(file.get(), write); error != 0) throw fail(error);
  // fsync before rename: otherwise a crash can leave the target renamed to a file whose data never
  // reached the disk, i.e. an empty or partial model where the old one used to be.
  if (::fsync(file.get()) != 0) throw fail(errno);
  if (file.close() != 0) throw fail(errno);
  if (std::rename(temporary.name().c_str(), target.c_str()) != 0) throw fail(errno);
  temporary.commit();
  sync_parent_directory(target);
}

}  // namespace sigtrain
