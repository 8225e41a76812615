#include "core/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fulcrum {

bool replace_file(const std::string &path, const std::string &data, unsigned mode, std::string &err) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    bool ok = fd >= 0 && ::fchmod(fd, mode) == 0;
    for (size_t off = 0; ok && off < data.size();) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) ok = false;
        else off += size_t(n);
    }
    if (fd >= 0 && ::close(fd) != 0) ok = false;
    if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return true;
    err = "cannot write " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::unlink(tmp.c_str());
    return false;
}

result<std::string> read_text_file(const std::string &path, const std::string &what, size_t max_bytes) {
    // O_NONBLOCK: opening a FIFO with no writer does not wait.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return error{what, "cannot open file '" + path + "': " + std::strerror(errno)};
    struct stat st{};
    std::string text;
    const char *refused = nullptr;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) refused = "is not a regular file";
    else if (size_t(st.st_size) > max_bytes) refused = "is too large";
    while (!refused) {
        char buf[65536];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) refused = "cannot be read";
        if (n <= 0) break;
        text.append(buf, size_t(n));
        if (text.size() > max_bytes) refused = "is too large"; // it grew while read
    }
    ::close(fd);
    if (refused)
        return error{what, "file '" + path + "' " + refused + " (a regular file of at most " +
                               std::to_string(max_bytes >> 10) + " KiB is read)"};
    return text;
}

} // namespace fulcrum
