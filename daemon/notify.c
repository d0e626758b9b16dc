#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int notify_send(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t n, len;
	ssize_t r;
	int fd, saved;

	if (!e || !*e)
		return 0;
	n = strlen(e);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (e[0] == '/') {
		if (n >= sizeof sa.sun_path) {
			errno = EINVAL;
			return -1;
		}
		memcpy(sa.sun_path, e, n + 1);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	} else if (e[0] == '@') {
		/* abstract: a leading NUL, then the name; the length counts no terminator */
		if (n < 2 || n > sizeof sa.sun_path) {
			errno = EINVAL;
			return -1;
		}
		sa.sun_path[0] = '\0';
		memcpy(sa.sun_path + 1, e + 1, n - 1);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		/* vsock: and anything else systemd may invent */
		errno = strchr(e, ':') ? EAFNOSUPPORT : EINVAL;
		return -1;
	}
	len = strlen(msg);
	if (len == 0 || len > NOTIFY_MAX_MESSAGE) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	do
		r = sendto(fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
	while (r < 0 && errno == EINTR);
	saved = errno;
	close(fd);
	if (r < 0) {
		errno = saved;
		return -1;
	}
	if ((size_t)r != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 1;
}

int notify_ready(void)
{
	return notify_send("READY=1");
}

int notify_status(const char *fmt, ...)
{
	char msg[NOTIFY_MAX_MESSAGE + 1];
	static const char prefix[] = "STATUS=";
	va_list ap;

	memcpy(msg, prefix, sizeof prefix);
	va_start(ap, fmt);
	vsnprintf(msg + sizeof prefix - 1, sizeof msg - (sizeof prefix - 1), fmt, ap);
	va_end(ap);
	/* one assignment per line: a newline in the text would start another */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return notify_send(msg);
}

int notify_reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld", (long long)now_mono_us());
	return notify_send(msg);
}

int notify_stopping(void)
{
	return notify_send("STOPPING=1");
}

int notify_watchdog(void)
{
	return notify_send("WATCHDOG=1");
}

/* A strict decimal unsigned number; -1 if `s` is anything else. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

uint64_t notify_watchdog_interval_us(void)
{
	const char *pid = getenv("WATCHDOG_PID");
	uint64_t usec, p;

	if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
		return 0;
	if (pid && *pid && (parse_u64(pid, &p) < 0 || p != (uint64_t)getpid()))
		return 0;
	return usec / 2 ? usec / 2 : 1;
}
