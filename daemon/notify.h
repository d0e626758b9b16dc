/*
 * notify: the systemd service notification protocol (sd_notify), without
 * libsystemd.
 *
 * Each message is one datagram of newline-separated VAR=value assignments
 * sent to the AF_UNIX socket named by $NOTIFY_SOCKET: a file system path
 * ("/run/systemd/notify") or, with a leading '@', an abstract socket whose
 * address is passed with its exact length.  When $NOTIFY_SOCKET is unset
 * (not started by systemd with Type=notify) every call does nothing and
 * returns 0.  The module keeps no state: each call opens, sends, closes.
 *
 * Use: notify_ready() once the database and listener are up;
 * notify_status() with live counts; notify_watchdog() from the event loop
 * every notify_watchdog_interval_us(); notify_reloading() ... notify_ready()
 * around a configuration reload; notify_stopping() when shutdown starts.
 * Never put a token or secret in a STATUS= text.
 */
#ifndef BB_NOTIFY_H
#define BB_NOTIFY_H

#include <stdint.h>

/* Largest message sent; longer STATUS= texts are cut. */
#define NOTIFY_MAX_MESSAGE 2048

/*
 * Send `msg` as is.  1 when sent, 0 when $NOTIFY_SOCKET is unset, -1 on
 * error (errno set: EINVAL for a malformed $NOTIFY_SOCKET, EAFNOSUPPORT for
 * a socket kind other than a path or '@' name, or the send error).
 */
int notify_send(const char *msg);

/* READY=1: start-up (or a reload) is complete. */
int notify_ready(void);

/* STATUS=<text>; newlines in the text become spaces. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now>, as Type=notify-reload wants. */
int notify_reloading(void);

/* STOPPING=1: shutdown has begun. */
int notify_stopping(void);

/* WATCHDOG=1: the event loop is alive. */
int notify_watchdog(void);

/*
 * How often to call notify_watchdog(), in microseconds: half of
 * $WATCHDOG_USEC when that is set to a positive number and $WATCHDOG_PID is
 * unset or names this process; 0 when the watchdog is not enabled for us.
 */
uint64_t notify_watchdog_interval_us(void);

#endif
