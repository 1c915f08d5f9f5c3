// Writing a file that holds personal data: private from its first byte, complete or absent.
#pragma once

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>

namespace dbrefresh {

// Writes `path` through a temporary name beside it, created with O_CREAT|O_EXCL|O_NOFOLLOW and
// mode 0600 (so no other user ever reads a byte of it, and a symlink or a file planted at the
// temporary name is never followed or reused), then renamed over `path` by Commit(): a fixed path
// such as the CronJob's --report is replaced whole. Destroying it uncommitted removes the
// temporary file. Errors are Failure (exit 1) naming the path.
class PrivateFile {
 public:
  explicit PrivateFile(const std::string& path);
  ~PrivateFile();
  PrivateFile(const PrivateFile&) = delete;
  PrivateFile& operator=(const PrivateFile&) = delete;

  std::ostream& stream() { return *stream_; }
  const std::string& temp_path() const { return temp_path_; }
  // Flushes, fsyncs and renames into place.
  void Commit();

 private:
  class FdBuffer;
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  std::unique_ptr<FdBuffer> buffer_;
  std::unique_ptr<std::ostream> stream_;
  bool committed_ = false;
};

// Writes `text` to `path` as a PrivateFile.
void WritePrivateText(const std::string& path, const std::string& text);

}  // namespace dbrefresh
