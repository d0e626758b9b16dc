#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "complain.h"
#include "enrol.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "sync.h"
#include "tokens.h"
#include "util.h"
#include "vault.h"

#define DRAIN_TIMEOUT_US (DAEMON_DRAIN_TIMEOUT_S * 1000000LL)
#define MAX_ROUTES 32

/* The subsystems, started in this order and stopped in reverse. */
static const bb_subsystem *const subsystems[] = {
	&health_subsystem,
	&tokens_subsystem,
	&enrol_subsystem,
	&sync_subsystem,
	NULL,
};

static volatile sig_atomic_t sig_term_count;
static volatile sig_atomic_t sig_hup;
static int sig_pipe[2] = { -1, -1 };

static void on_signal(int signo)
{
	int saved = errno;
	char c = (char)signo;

	if (signo == SIGHUP)
		sig_hup = 1;
	else
		sig_term_count++;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], &c, 1) < 0) {
		/* pipe full: the flag is set, the loop will see it */
	}
	errno = saved;
}

static int signals_setup(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

static void signals_drain_pipe(void)
{
	char buf[64];

	while (read(sig_pipe[0], buf, sizeof buf) > 0)
		;
}

static void make_instance_id(bb_daemon *d)
{
	char host[64] = "localhost";
	unsigned char r[4] = { 0 };

	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	RAND_bytes(r, sizeof r);
	snprintf(d->instance_id, sizeof d->instance_id, "%s:%ld:%02x%02x%02x%02x",
		 host, (long)getpid(), r[0], r[1], r[2], r[3]);
}

#define SWAP(field) do { \
		__typeof__(next->field) t_ = next->field; \
		next->field = old->field; \
		old->field = t_; \
	} while (0)

/*
 * The keys config.c marks not reloadable keep their running values in the
 * new configuration (the database connection, the listener and the vault
 * were made from them), until the next restart.
 */
static void keep_running_values(bb_config *old, bb_config *next)
{
	SWAP(api_base_url);
	SWAP(api_version);
	SWAP(client_id);
	SWAP(redirect_uri);
	SWAP(db_conninfo);
	SWAP(vault_key_file);
	SWAP(vault_key_credential);
	SWAP(vault_key_path);
	SWAP(listen_address);
	SWAP(listen_port);
	SWAP(public_url);
}

#undef SWAP

/* Build, validate, swap; the running configuration stays on any error. */
static bool reload(bb_daemon *d, const char *config_path)
{
	bb_config *next = NULL;
	config_report rep = { 0 };
	const char *keys[16];
	size_t n;

	log_notice("reloading the configuration from %s", config_path);
	if (config_load(config_path, true, &next, &rep) < 0) {
		for (size_t i = 0; i < rep.count; i++) {
			if (rep.hints && rep.hints[i])
				log_error("%s; HINT: %s", rep.messages[i], rep.hints[i]);
			else
				log_error("%s", rep.messages[i]);
		}
		log_error("configuration reload failed (%zu problem%s); keeping the running "
			  "configuration", rep.count, rep.count == 1 ? "" : "s");
		config_report_free(&rep);
		metrics_inc(METRIC_RELOADS, "failed");
		metrics_inc(METRIC_ERRORS, "config");
		return false;
	}
	config_report_free(&rep);
	n = config_unreloadable_changes(d->cfg, next, keys, sizeof keys / sizeof keys[0]);
	for (size_t i = 0; i < n && i < sizeof keys / sizeof keys[0]; i++)
		log_warning("\"%s\" changed; it takes effect at the next restart", keys[i]);
	keep_running_values(d->cfg, next);
	config_free(d->cfg);
	d->cfg = next;
	log_init("bbingest", d->cfg->log_level, d->cfg->log_format);
	metrics_inc(METRIC_RELOADS, "ok");
	log_notice("configuration reloaded");
	return true;
}

/* Routes of every subsystem, then the listener; NULL with err on failure. */
static listener *start_listener(bb_daemon *d, void **self, size_t nsub, char *err, size_t errlen)
{
	listener_route routes[MAX_ROUTES];
	size_t n = 0;
	listener *l;

	for (size_t i = 0; i < nsub; i++)
		if (subsystems[i]->routes)
			n += subsystems[i]->routes(self[i], routes + n, MAX_ROUTES - n);
	l = listener_new(d->cfg->listen_address, d->cfg->listen_port, routes, n,
			 &(listener_limits){ 0 }, err, errlen);
	if (l)
		log_debug("listener: %zu routes", n);
	return l;
}

int daemon_run(bb_config *cfg, const char *config_path, struct vault *v)
{
	size_t nsub = 0;
	void *self[16] = { 0 };
	bb_daemon d = { 0 };
	char err[1024];
	int rc = EX_OK, applied = 0;
	int64_t drain_deadline = 0, watchdog_us, next_watchdog = 0;
	int64_t started = now_mono_us(), round_start = started, loop_busy_us = 0;

	while (subsystems[nsub])
		nsub++;
	/*
	 * Page buffers come and go in sizes up to megabytes: a fixed mmap
	 * threshold gives them back to the system when freed (glibc's dynamic
	 * threshold would keep them on the heap, and the daemon's memory would
	 * follow its largest page ever rather than the pages in flight).
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	sig_term_count = 0;
	sig_hup = 0;
	d.cfg = cfg;
	d.vault = v;
	d.started_us = now_mono_us();
	make_instance_id(&d);
	if (signals_setup() < 0) {
		log_error("could not set up signal handling: %s", strerror(errno));
		config_free(cfg);
		vault_free(v);
		return EX_OSERR;
	}
	d.db = store_connect(cfg->db_conninfo, err, sizeof err);
	if (!d.db) {
		log_error("%s", err);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	if (store_migrate(d.db, &applied, err, sizeof err) < 0) {
		log_error("%s", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	if (applied)
		log_notice("applied %d database migration%s", applied, applied == 1 ? "" : "s");
	d.http = http_new(cfg->ca_file, cfg->concurrency, false, err, sizeof err);
	if (!d.http) {
		log_error("%s", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	for (size_t i = 0; i < nsub; i++) {
		self[i] = subsystems[i]->start(&d, err, sizeof err);
		if (!self[i]) {
			log_error("%s: %s", subsystems[i]->name, err);
			rc = EX_UNAVAILABLE;
			nsub = i;
			goto stop;
		}
	}
	d.listener = start_listener(&d, self, nsub, err, sizeof err);
	if (!d.listener) {
		log_error("listener: %s; HINT: check listener.address and listener.port, or whether "
			  "another process holds the port", err);
		rc = EX_UNAVAILABLE;
		goto stop;
	}
	watchdog_us = (int64_t)notify_watchdog_interval_us();
	log_notice("bbingest %s running as %s; listening on %s:%d%s", BBINGEST_VERSION,
		   d.instance_id, d.cfg->listen_address, listener_port(d.listener),
		   watchdog_us ? "; systemd watchdog on" : "");
	notify_ready();

	for (;;) {
		struct curl_waitfd fds[16];
		unsigned nfds = 0;
		int64_t now = now_mono_us(), wake = now + 1000000;
		int timeout_ms, lt;

		if (watchdog_us && now >= next_watchdog) {
			notify_watchdog();
			next_watchdog = now + watchdog_us;
		}
		if (sig_term_count >= 2) {
			log_warning("second stop signal: abandoning %zu requests in flight "
				    "(their pages are discarded whole)", http_inflight(d.http));
			break;
		}
		if (sig_term_count == 1 && !d.draining) {
			log_notice("stop signal: finishing the %zu requests in flight, taking no new work",
				   http_inflight(d.http));
			notify_stopping();
			d.draining = true;
			drain_deadline = now + DRAIN_TIMEOUT_US;
			for (size_t i = 0; i < nsub; i++)
				if (subsystems[i]->drain)
					subsystems[i]->drain(self[i], &d);
		}
		if (sig_hup) {
			sig_hup = 0;
			if (d.draining) {
				log_notice("reload ignored: stopping");
			} else {
				notify_reloading();
				if (reload(&d, config_path))
					for (size_t i = 0; i < nsub; i++)
						if (subsystems[i]->reloaded)
							subsystems[i]->reloaded(self[i], &d);
				notify_ready();
			}
		}
		if (d.draining) {
			bool idle = http_inflight(d.http) == 0;

			for (size_t i = 0; i < nsub && idle; i++)
				if (subsystems[i]->idle && !subsystems[i]->idle(self[i]))
					idle = false;
			if (idle) {
				log_notice("drained: nothing in flight");
				break;
			}
			if (now > drain_deadline) {
				log_warning("drain took longer than %d s; abandoning %zu requests in flight "
					    "(their pages are discarded whole)", DAEMON_DRAIN_TIMEOUT_S,
					    http_inflight(d.http));
				break;
			}
			if (drain_deadline < wake)
				wake = drain_deadline + 1;
		}
		/* a broken loop connection is re-established with backoff (store.h) */
		if (!store_ensure(d.db, now) && now + 500000 < wake)
			wake = now + 500000;
		for (size_t i = 0; i < nsub; i++) {
			int64_t w = subsystems[i]->tick(self[i], &d, now);

			if (w < wake)
				wake = w;
			if (subsystems[i]->fds)
				nfds += subsystems[i]->fds(self[i], fds + nfds,
							   (unsigned)(sizeof fds / sizeof fds[0]) - 2 - nfds);
		}
		complain_flush();
		if (watchdog_us && next_watchdog < wake)
			wake = next_watchdog;
		fds[nfds++] = (struct curl_waitfd){ .fd = sig_pipe[0], .events = CURL_WAIT_POLLIN };
		fds[nfds++] = (struct curl_waitfd){ .fd = listener_fd(d.listener),
						    .events = CURL_WAIT_POLLIN };
		now = now_mono_us();
		timeout_ms = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
		lt = listener_timeout_ms(d.listener);
		if (lt >= 0 && lt < timeout_ms)
			timeout_ms = lt;
		loop_busy_us += now - round_start;
		http_poll(d.http, fds, nfds, timeout_ms);
		round_start = now_mono_us();
		signals_drain_pipe();
		http_perform(d.http);
		listener_run(d.listener);
	}
stop:
	if (!d.draining)
		notify_stopping();
	/* handlers use the subsystems: the listener goes first */
	listener_free(d.listener);
	d.listener = NULL;
	/* in-flight transfers complete as aborted: their pages are discarded */
	http_free(d.http);
	d.http = NULL;
	for (size_t i = nsub; i-- > 0;)
		subsystems[i]->stop(self[i], &d);
out:
	complain_reset();
	store_close(d.db);
	config_free(d.cfg);
	vault_free(d.vault);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
	log_notice("bbingest stopped after %.1f s; its loop was busy (not waiting) for %.1f s",
		   (double)(now_mono_us() - started) / 1e6, (double)loop_busy_us / 1e6);
	return rc;
}
