#include "complain.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Longest message remembered (log lines are cut at about this length anyway). */
#define TEXT_MAX 1024

typedef struct slot {
	bool used;
	int prio;
	uint64_t hash;
	int64_t logged_us;      /* when it was last written */
	int64_t seen_us;        /* when it last occurred */
	uint64_t suppressed;    /* occurrences since logged_us not written */
	char text[TEXT_MAX];
} slot;

static slot slots[COMPLAIN_SLOTS];
static int64_t interval_us = COMPLAIN_INTERVAL_S * 1000000LL;
static int64_t (*clock_fn)(void) = now_mono_us;

void complain_set_interval(int64_t seconds)
{
	interval_us = (seconds < 1 ? 1 : seconds) * 1000000LL;
}

void complain_set_clock(int64_t (*clock_us)(void))
{
	clock_fn = clock_us ? clock_us : now_mono_us;
}

static uint64_t fnv1a(const char *s, int prio)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)prio;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void log_repeats(slot *s, int64_t now)
{
	log_msg(s->prio, "%s (repeated %llu times in the last %lld s)", s->text,
		(unsigned long long)s->suppressed, (long long)((now - s->logged_us + 500000) / 1000000));
	s->suppressed = 0;
	s->logged_us = now;
}

static void forget(slot *s, int64_t now)
{
	if (s->suppressed)
		log_repeats(s, now);
	s->used = false;
}

bool complain_v(int prio, const char *fmt, va_list ap)
{
	char text[TEXT_MAX];
	int64_t now = clock_fn();
	uint64_t h;
	slot *s = NULL, *lru = NULL, *free_slot = NULL;

	vsnprintf(text, sizeof text, fmt, ap);
	h = fnv1a(text, prio);
	for (size_t i = 0; i < COMPLAIN_SLOTS; i++) {
		slot *c = &slots[i];

		if (!c->used) {
			if (!free_slot)
				free_slot = c;
			continue;
		}
		if (c->hash == h && c->prio == prio && strcmp(c->text, text) == 0) {
			s = c;
			break;
		}
		if (!lru || c->seen_us < lru->seen_us)
			lru = c;
	}
	if (s) {
		s->seen_us = now;
		if (now - s->logged_us < interval_us) {
			s->suppressed++;
			return false;
		}
		if (s->suppressed) {
			s->suppressed++;        /* this one too */
			log_repeats(s, now);
		} else {
			log_msg(prio, "%s", text);
			s->logged_us = now;
		}
		return true;
	}
	if (!free_slot) {
		forget(lru, now);
		free_slot = lru;
	}
	s = free_slot;
	s->used = true;
	s->prio = prio;
	s->hash = h;
	s->logged_us = s->seen_us = now;
	s->suppressed = 0;
	memcpy(s->text, text, sizeof text);
	log_msg(prio, "%s", text);
	return true;
}

bool complain(int prio, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = complain_v(prio, fmt, ap);
	va_end(ap);
	return r;
}

void complain_flush(void)
{
	int64_t now = clock_fn();

	for (size_t i = 0; i < COMPLAIN_SLOTS; i++) {
		slot *s = &slots[i];

		if (!s->used)
			continue;
		if (s->suppressed && now - s->logged_us >= interval_us)
			log_repeats(s, now);
		else if (!s->suppressed && now - s->seen_us >= 2 * interval_us)
			s->used = false;
	}
}

void complain_reset(void)
{
	int64_t now = clock_fn();

	for (size_t i = 0; i < COMPLAIN_SLOTS; i++)
		if (slots[i].used)
			forget(&slots[i], now);
}
