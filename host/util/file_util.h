// Small file helpers shared by the readers and writers.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

namespace sigtrain {

// The whole file as bytes; throws InputError "path: cannot open (reason)" on failure.
std::string read_file(const std::string& path);

// The file a write to `path` replaces: `path` itself or, where `path` is a symbolic link, the file it
// points to (link after link; a relative target is taken from the link's folder), so that saving
// through a link updates its target and keeps the link. Throws InputError on a loop of links.
std::string write_target(const std::string& path);

// Why write_file_atomically(path) would be refused, as "path: reason" (empty when it would not be):
// `path` is a folder, its folder does not exist or is not writable, or it is a read-only file (no write
// bit for anyone, or not writable by this user). Checked before a long run, so it cannot fail only at
// the end.
std::string why_not_writable(const std::string& path);

// What write_file_atomically holds of the file at a time: the stream it gives `write` goes to the
// temporary file in blocks of this size, so saving a model needs this much beside the model itself.
constexpr size_t kWriteBlockBytes = size_t(1) << 16;

// Writes what `write` puts into the stream it is given to write_target(path) atomically: a temporary
// file beside it (same directory, so rename is atomic), written as the stream fills kWriteBlockBytes,
// flushed and fsync'ed, then renamed over it. An existing file keeps its mode (and owner, where the
// process may set it); a read-only one is refused (why_not_writable). On failure the temporary is
// removed, an existing file is untouched, and InputError is thrown (an exception thrown by `write`
// passes on after the same clean-up).
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);
// The same with `contents` as the file's bytes.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace sigtrain
