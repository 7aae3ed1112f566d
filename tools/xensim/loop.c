/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

struct sim_watch {
	int fd;
	sim_loop_cb cb;
	void *arg;
	bool dead;
	struct sim_watch *next;
};

struct sim_loop {
	int epfd;
	int stopfd;
	volatile int stopping;
	struct sim_watch *watches;   /* live and dead (freed between runs) */
};

int sim_loop_create(struct sim_loop **out)
{
	struct sim_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		err = -errno;
		goto err_free;
	}
	loop->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->stopfd < 0) {
		err = -errno;
		goto err_epoll;
	}
	ev.data.ptr = NULL;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stopfd, &ev) < 0) {
		err = -errno;
		goto err_stopfd;
	}
	*out = loop;
	return 0;

err_stopfd:
	close(loop->stopfd);
err_epoll:
	close(loop->epfd);
err_free:
	free(loop);
	return err;
}

void sim_loop_destroy(struct sim_loop *loop)
{
	struct sim_watch *w, *next;

	if (!loop)
		return;
	for (w = loop->watches; w; w = next) {
		next = w->next;
		free(w);
	}
	close(loop->stopfd);
	close(loop->epfd);
	free(loop);
}

static struct sim_watch *find_live(struct sim_loop *loop, int fd)
{
	struct sim_watch *w;

	for (w = loop->watches; w; w = w->next)
		if (!w->dead && w->fd == fd)
			return w;
	return NULL;
}

int sim_loop_add(struct sim_loop *loop, int fd, sim_loop_cb cb, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sim_watch *w;

	if (find_live(loop, fd))
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	w->next = loop->watches;
	loop->watches = w;
	return 0;
}

void sim_loop_del(struct sim_loop *loop, int fd)
{
	struct sim_watch *w = find_live(loop, fd);

	if (!w)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* Freed after the current dispatch: a queued event may still name it. */
	w->dead = true;
}

static void reap(struct sim_loop *loop)
{
	struct sim_watch **pp = &loop->watches, *w;

	while ((w = *pp)) {
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

int sim_loop_run_once(struct sim_loop *loop, int timeout_ms)
{
	struct epoll_event evs[64];
	int n, i, ran = 0;

	n = epoll_wait(loop->epfd, evs, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct sim_watch *w = evs[i].data.ptr;

		if (!w) {
			uint64_t v;

			if (read(loop->stopfd, &v, sizeof(v)) < 0) {
				/* nothing queued: spurious */
			}
			loop->stopping = 1;
			continue;
		}
		if (w->dead)
			continue;
		w->cb(w->arg, w->fd, evs[i].events);
		ran++;
	}
	reap(loop);
	return ran;
}

int sim_loop_run(struct sim_loop *loop)
{
	while (!loop->stopping) {
		int ret = sim_loop_run_once(loop, -1);

		if (ret < 0)
			return ret;
	}
	loop->stopping = 0;
	return 0;
}

void sim_loop_stop(struct sim_loop *loop)
{
	uint64_t one = 1;

	if (write(loop->stopfd, &one, sizeof(one)) < 0) {
		/* counter full: a stop is already pending */
	}
}
