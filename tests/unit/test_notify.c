/*
 * Unit tests of daemon/notify: messages arrive, in order, at a datagram
 * socket named by $NOTIFY_SOCKET, both a path and an abstract '@' name;
 * nothing happens without it; the watchdog interval follows WATCHDOG_USEC
 * and WATCHDOG_PID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "minicheck.h"
#include "notify.h"
#include "util.h"

static char tmpdir[] = "/tmp/bb-notify-test-XXXXXX";

/* The next datagram on fd (waiting at most a second), or "" if none came. */
static const char *next_msg(int fd)
{
	static char buf[NOTIFY_MAX_MESSAGE + 16];
	struct timeval tv = { 1, 0 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = recv(fd, buf, sizeof buf - 1, 0);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

static void send_all_and_check(int fd)
{
	const char *m;
	long long before, after, mono;

	CHECK(notify_status("starting: %d participants\nwith a second line", 12) == 1);
	CHECK(notify_ready() == 1);
	before = (long long)now_mono_us();
	CHECK(notify_reloading() == 1);
	after = (long long)now_mono_us();
	CHECK(notify_ready() == 1);
	CHECK(notify_watchdog() == 1);
	CHECK(notify_stopping() == 1);
	CHECK(notify_send("ERRNO=0\nSTATUS=custom") == 1);

	CHECK_STR(next_msg(fd), "STATUS=starting: 12 participants with a second line");
	CHECK_STR(next_msg(fd), "READY=1");
	m = next_msg(fd);
	CHECK(strncmp(m, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	mono = atoll(m + 27);
	CHECK(mono >= before && mono <= after);
	CHECK_STR(next_msg(fd), "READY=1");
	CHECK_STR(next_msg(fd), "WATCHDOG=1");
	CHECK_STR(next_msg(fd), "STOPPING=1");
	CHECK_STR(next_msg(fd), "ERRNO=0\nSTATUS=custom");
}

static void test_path_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *path = xasprintf("%s/notify", tmpdir);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	mc_section("messages in order at a path socket");
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	setenv("NOTIFY_SOCKET", path, 1);
	send_all_and_check(fd);

	mc_section("a long STATUS= is cut to the message limit, not refused");
	{
		char *big = xmalloc(5000);

		memset(big, 'x', 4999);
		big[4999] = '\0';
		CHECK(notify_status("%s", big) == 1);
		CHECK(strlen(next_msg(fd)) == NOTIFY_MAX_MESSAGE);
		free(big);
	}
	close(fd);
	unlink(path);

	mc_section("a socket that is gone gives -1, not a crash");
	errno = 0;
	CHECK(notify_ready() == -1 && errno == ENOENT);
	free(path);
}

static void test_abstract_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char name[64], env[80];
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	socklen_t len;

	mc_section("messages in order at an abstract socket bound with its exact length");
	snprintf(name, sizeof name, "bb-notify-test-%ld", (long)getpid());
	memcpy(sa.sun_path + 1, name, strlen(name));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0);
	snprintf(env, sizeof env, "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	send_all_and_check(fd);
	close(fd);
}

static void test_unset_and_malformed(void)
{
	mc_section("without NOTIFY_SOCKET every call is a no-op returning 0");
	unsetenv("NOTIFY_SOCKET");
	CHECK(notify_ready() == 0);
	CHECK(notify_status("x") == 0);
	CHECK(notify_reloading() == 0);
	CHECK(notify_watchdog() == 0);
	CHECK(notify_stopping() == 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK(notify_ready() == 0);

	mc_section("a relative path, a bare '@' or a vsock address is refused");
	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	errno = 0;
	CHECK(notify_ready() == -1 && errno == EINVAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK(notify_ready() == -1 && errno == EINVAL);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	CHECK(notify_ready() == -1 && errno == EAFNOSUPPORT);
	{
		char longp[200];

		memset(longp, 'a', sizeof longp - 1);
		longp[0] = '/';
		longp[sizeof longp - 1] = '\0';
		setenv("NOTIFY_SOCKET", longp, 1);
		CHECK(notify_ready() == -1 && errno == EINVAL);
	}
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_interval(void)
{
	char pid[32];

	mc_section("watchdog interval: half of WATCHDOG_USEC, only for our own pid");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK(notify_watchdog_interval_us() == 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	CHECK(notify_watchdog_interval_us() == 15000000);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(notify_watchdog_interval_us() == 15000000);
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK(notify_watchdog_interval_us() == 0);
	setenv("WATCHDOG_PID", "12x", 1);
	CHECK(notify_watchdog_interval_us() == 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "1500", 1);
	CHECK(notify_watchdog_interval_us() == 750);    /* sub-second stays exact */
	setenv("WATCHDOG_USEC", "1", 1);
	CHECK(notify_watchdog_interval_us() == 1);
	setenv("WATCHDOG_USEC", "0", 1);
	CHECK(notify_watchdog_interval_us() == 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	CHECK(notify_watchdog_interval_us() == 0);
	setenv("WATCHDOG_USEC", "10s", 1);
	CHECK(notify_watchdog_interval_us() == 0);
	setenv("WATCHDOG_USEC", "99999999999999999999999", 1);
	CHECK(notify_watchdog_interval_us() == 0);
	unsetenv("WATCHDOG_USEC");
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_path_socket();
	test_abstract_socket();
	test_unset_and_malformed();
	test_watchdog_interval();
	rmdir(tmpdir);
	return mc_done("test_notify");
}
