/*
 * gpnet: a small blocking C socket client, written the way C drivers are
 * (blocking socket, connect, send, then poll or select before each recv).
 * The tests call it through FFI from green threads: with the `libc` patch
 * module on, each of its blocking calls parks only the calling green thread.
 *
 * Every function returns a negative errno on failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Waits until fd is readable: poll() or select(); 1 ready, 0 timeout, -errno. */
static int wait_readable(int fd, int timeout_ms, int use_select) {
    if (use_select) {
        fd_set rd;
        struct timeval tv;
        if (fd >= FD_SETSIZE)
            return -EINVAL;
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        tv.tv_sec = timeout_ms / 1000;
        tv.tv_usec = (timeout_ms % 1000) * 1000;
        int r = select(fd + 1, &rd, NULL, NULL, &tv);
        if (r < 0)
            return -errno;
        return r > 0 && FD_ISSET(fd, &rd) ? 1 : 0;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return -errno;
    return r;
}

/*
 * Connects to ip:port, sends msg, then reads the reply until the peer
 * closes or out is full, waiting with poll (or select) at most timeout_ms
 * before each read. Returns the reply's length, -ETIMEDOUT, or -errno.
 */
int gpnet_request(const char *ip, int port, const char *msg, char *out, int outlen, int timeout_ms,
                  int use_select) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int ret;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        ret = -errno;
        goto out;
    }
    size_t len = strlen(msg), sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, msg + sent, len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        sent += (size_t)n;
    }
    int got = 0;
    while (got < outlen) {
        int r = wait_readable(fd, timeout_ms, use_select);
        if (r < 0) {
            ret = r;
            goto out;
        }
        if (r == 0) {
            ret = -ETIMEDOUT;
            goto out;
        }
        ssize_t n = recv(fd, out + got, (size_t)(outlen - got), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (n == 0)
            break;
        got += (int)n;
    }
    ret = got;
out:
    close(fd);
    return ret;
}

/* Sleeps ms milliseconds with nanosleep(); 0 or -errno. */
int gpnet_sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}
