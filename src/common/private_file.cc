// Private files written whole (see private_file.h).
#include "common/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "common/error.h"

namespace dbrefresh {

// A streambuf over a file descriptor; a failed write sets `error` and fails the stream.
class PrivateFile::FdBuffer : public std::streambuf {
 public:
  explicit FdBuffer(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof buffer_); }
  int error = 0;

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override {
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error = errno;
        return -1;
      }
      p += n;
    }
    setp(buffer_, buffer_ + sizeof buffer_);
    return 0;
  }

 private:
  int fd_;
  char buffer_[65536];
};

namespace {

std::string RandomSuffix() {
  std::random_device random;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i) out += kHex[random() % 16];
  return out;
}

}  // namespace

PrivateFile::PrivateFile(const std::string& path) : path_(path) {
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temp_path_ = path + ".tmp-" + std::to_string(::getpid()) + "-" + RandomSuffix();
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0 && (errno != EEXIST || attempt >= 10)) {
      throw Failure("cannot create " + path + " (through " + temp_path_ + "): " + std::strerror(errno));
    }
  }
  buffer_ = std::make_unique<FdBuffer>(fd_);
  stream_ = std::make_unique<std::ostream>(buffer_.get());
}

PrivateFile::~PrivateFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void PrivateFile::Commit() {
  stream_->flush();
  if (!*stream_ || buffer_->error != 0) {
    throw Failure("cannot write " + path_ + ": " + std::strerror(buffer_->error ? buffer_->error : EIO));
  }
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    const int err = errno;
    fd_ = -1;
    throw Failure("cannot write " + path_ + ": " + std::strerror(err));
  }
  fd_ = -1;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw Failure("cannot move " + temp_path_ + " into place at " + path_ + ": " + std::strerror(errno));
  }
  committed_ = true;
}

void WritePrivateText(const std::string& path, const std::string& text) {
  PrivateFile file(path);
  file.stream() << text;
  file.Commit();
}

}  // namespace dbrefresh
