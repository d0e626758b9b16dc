#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "log.h"
#include "util.h"
#include "vault.h"

/* How long a drain may take before in-flight transfers are abandoned. */
#define DRAIN_TIMEOUT_US (30 * 1000000LL)

/* The subsystems, started in this order and stopped in reverse. */
static const bb_subsystem *const subsystems[] = {
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

static void reload(bb_daemon *d, const char *config_path)
{
	bb_config *next = NULL;
	config_report rep = { 0 };

	log_notice("reloading configuration from %s", config_path);
	if (config_load(config_path, true, &next, &rep) < 0) {
		for (size_t i = 0; i < rep.count; i++)
			log_error("%s", rep.messages[i]);
		log_error("configuration reload failed; keeping the running configuration");
		config_report_free(&rep);
		return;
	}
	config_report_free(&rep);
	/* keys that cannot change without a restart keep their running values */
	if (strcmp(next->db_conninfo, d->cfg->db_conninfo) != 0)
		log_warning("database.conninfo changed; it takes effect at the next restart");
	config_free(d->cfg);
	d->cfg = next;
	log_set_level(d->cfg->log_level);
	log_notice("configuration reloaded");
}

int daemon_run(bb_config *cfg, const char *config_path, struct vault *v)
{
	size_t nsub = 0;
	void *self[16] = { 0 };
	bb_daemon d = { 0 };
	char err[1024];
	int rc = EX_OK, applied = 0;
	int64_t drain_deadline = 0;

	while (subsystems[nsub])
		nsub++;
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
		config_free(cfg);
		vault_free(v);
		return EX_UNAVAILABLE;
	}
	if (store_migrate(d.db, &applied, err, sizeof err) < 0) {
		log_error("%s", err);
		store_close(d.db);
		config_free(cfg);
		vault_free(v);
		return EX_SOFTWARE;
	}
	d.http = http_new(cfg->ca_file, cfg->concurrency, false, err, sizeof err);
	if (!d.http) {
		log_error("%s", err);
		store_close(d.db);
		config_free(cfg);
		vault_free(v);
		return EX_SOFTWARE;
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
	{
		listener_route routes[32];
		size_t nroutes = 0;

		for (size_t i = 0; i < nsub; i++)
			if (subsystems[i]->routes)
				nroutes += subsystems[i]->routes(self[i], routes + nroutes,
								 sizeof routes / sizeof routes[0] - nroutes);
		d.listener = listener_new(d.cfg->listen_address, d.cfg->listen_port, routes, nroutes,
					  NULL, err, sizeof err);
		if (!d.listener) {
			log_error("listener: %s", err);
			fprintf(stderr, "HINT: check listener.address and listener.port, or whether "
				"another process holds the port\n");
			rc = EX_UNAVAILABLE;
			goto stop;
		}
	}
	log_notice("bbingest %s running as %s; listening on %s:%d", BBINGEST_VERSION,
		   d.instance_id, d.cfg->listen_address, listener_port(d.listener));

	for (;;) {
		struct curl_waitfd fds[16];
		unsigned nfds = 0;
		int64_t now = now_mono_us(), wake = now + 1000000;
		int timeout_ms;

		if (sig_term_count >= 2) {
			log_warning("second stop signal: abandoning %zu transfers in flight "
				    "(their pages are discarded whole)", http_inflight(d.http));
			break;
		}
		if (sig_term_count == 1 && !d.draining) {
			log_notice("stop signal: finishing the pages in flight, taking no new work");
			d.draining = true;
			drain_deadline = now + DRAIN_TIMEOUT_US;
			for (size_t i = 0; i < nsub; i++)
				if (subsystems[i]->drain)
					subsystems[i]->drain(self[i], &d);
		}
		if (sig_hup) {
			sig_hup = 0;
			reload(&d, config_path);
			for (size_t i = 0; i < nsub; i++)
				if (subsystems[i]->reloaded)
					subsystems[i]->reloaded(self[i], &d);
		}
		if (d.draining) {
			bool idle = http_inflight(d.http) == 0;

			for (size_t i = 0; i < nsub && idle; i++)
				if (subsystems[i]->idle && !subsystems[i]->idle(self[i]))
					idle = false;
			if (idle)
				break;
			if (now > drain_deadline) {
				log_warning("drain took longer than %lld s; abandoning what is in flight",
					    (long long)(DRAIN_TIMEOUT_US / 1000000));
				break;
			}
		}
		for (size_t i = 0; i < nsub; i++) {
			int64_t w = subsystems[i]->tick(self[i], &d, now);

			if (w < wake)
				wake = w;
			if (subsystems[i]->fds)
				nfds += subsystems[i]->fds(self[i], fds + nfds,
							   (unsigned)(sizeof fds / sizeof fds[0]) - 2 - nfds);
		}
		fds[nfds++] = (struct curl_waitfd){ .fd = sig_pipe[0], .events = CURL_WAIT_POLLIN };
		fds[nfds++] = (struct curl_waitfd){ .fd = listener_fd(d.listener), .events = CURL_WAIT_POLLIN };
		timeout_ms = wake <= now ? 0 : (int)((wake - now + 999) / 1000);
		{
			int lt = listener_timeout_ms(d.listener);

			if (lt >= 0 && lt < timeout_ms)
				timeout_ms = lt;
		}
		http_poll(d.http, fds, nfds, timeout_ms);
		signals_drain_pipe();
		listener_run(d.listener);
		http_perform(d.http);
	}
stop:
	/* in-flight transfers complete as aborted: their pages are discarded */
	listener_free(d.listener);
	http_free(d.http);
	for (size_t i = nsub; i-- > 0;)
		subsystems[i]->stop(self[i], &d);
	store_close(d.db);
	config_free(d.cfg);
	vault_free(d.vault);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
	log_notice("bbingest stopped");
	return rc;
}
