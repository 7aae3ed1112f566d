/* SPDX-License-Identifier: MIT */
/*
 * ubackd: the watcher daemon that runs uback's data processes (see
 * docs/operating.md).
 *
 * It watches backend/vbd and backend/vif of its own domain, starts one
 * data process per device (uback-blk, uback-net) as soon as the toolstack
 * writes the device (so that the process reaches InitWait within libxl's
 * 10 s), restarts a process that dies (at once, then with a backoff when
 * it keeps dying), and answers ubackctl on a unix socket.
 *
 * State lives in the run directory (default /run/uback), one directory
 * per device, <kind>-<domid>-<devid>/: `pid` ("<pid> <starttime>", the
 * start time from /proc/<pid>/stat guards against pid reuse), `restarts`,
 * `stats` (the data process's counters) and the data process's own state
 * (uback-blk's ring journals). A restarted ubackd adopts the processes
 * whose pid files still name a live process and watches them through a
 * pidfd; it never signals them.
 *
 * Single-threaded: everything runs on the main loop (epoll). Functions
 * return 0 or -errno and log their own failures unless stated.
 */
#ifndef UBACKD_H
#define UBACKD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <xen/xen.h>

struct xb_hv;
struct xs_handle;

#define UD_MAX_ARGS 64

/* What a device is: "vbd" (uback-blk) or "vif" (uback-net). */
struct ud_dev {
	struct ud_dev *next;
	char kind[8];
	unsigned int domid, devid;
	char name[48];              /* "<kind>-<domid>-<devid>" */
	char be_path[128];
	char dir[PATH_MAX];         /* run-dir/<name> */
	pid_t pid;                  /* 0: not running */
	int pidfd;                  /* -1 when not running */
	bool child;                 /* ours (waitpid works) or adopted */
	unsigned long long starttime;
	uint64_t started_ms;        /* when the current process started */
	unsigned int restarts;      /* deaths followed by a new process */
	unsigned int quick_deaths;  /* consecutive deaths within 10 s */
	uint64_t restart_at_ms;     /* pending restart, 0: none */
	bool upgrading;             /* stopped on purpose: start again now */
	int last_status;            /* wait status, -1 unknown (adopted) */
	char bin_override[PATH_MAX];/* upgrade: binary for the next start */
	char last_error[160];       /* why it could not be started */
};

struct ud_config {
	const char *hv;             /* "xen" | "sim" | NULL (default) */
	const char *sim_dir;
	unsigned int self;          /* our domain id */
	const char *run_dir;
	const char *sysfs;          /* root of sysfs, "/sys" */
	const char *blk_bin, *net_bin;
	const char *config_file;    /* NULL: none */
	bool vbd, vif;              /* kinds served */
	int metrics_port;           /* 0: off; 127.0.0.1 only */
	bool check_kernel;          /* refuse while xen-blkback/netback bound */
};

struct ud {
	struct ud_config cfg;
	struct xb_hv *hv;
	struct xs_handle *xs;
	int epfd;
	int ctl_fd, metrics_fd;
	struct ud_dev *devs;
	bool stop;
	/* Parsed config file: "kind-args", "image", "domain" rules. */
	struct ud_rule {
		enum { UD_RULE_KIND, UD_RULE_DOMAIN, UD_RULE_IMAGE } type;
		char *kind, *match;     /* kind; image path / domain name */
		char *args;             /* whitespace-separated options */
	} *rules;
	unsigned int nrules;
};

/* epoll tags (data.u64): low bits the kind, pidfds carry the device. */
#define UD_EV_XS      1u
#define UD_EV_CTL     2u
#define UD_EV_METRICS 3u
#define UD_EV_SIGNAL  4u

uint64_t ud_now_ms(void);

/* devices.c */
/* Adopt live processes named by pid files in the run dir. */
void ud_adopt_existing(struct ud *ud);
/* Look at one backend device dir (or, with devid < 0, every device of
 * @kind, or with domid < 0 every domain) and start what is not served. */
void ud_scan(struct ud *ud, const char *kind, long domid, long devid);
/* A watch event path under a served kind: rescan the device it names. */
void ud_xs_event(struct ud *ud, const char *path);
/* A pidfd became readable: the process died. */
void ud_dev_died(struct ud *ud, struct ud_dev *d);
/* Start pending restarts that are due; returns ms until the next, or -1. */
int ud_run_timers(struct ud *ud);
/* @spec as an absolute xenstore path in @buf: libxl hands hotplug scripts
 * XENBUS_PATH relative to the backend domain's home
 * ("backend/vbd/3/51712"); anything else is copied as it is. */
const char *ud_abs_path(const struct ud *ud, const char *spec, char *buf,
			size_t size);
/* A served device by name ("vbd-3-51712"), kind/domid/devid
 * ("vbd/3/51712") or backend path (absolute or as ud_abs_path takes it). */
struct ud_dev *ud_find(struct ud *ud, const char *spec);
/* Upgrade: stop @d gracefully (SIGUSR1: uback-blk and uback-net detach
 * without a XenBus change) and start @bin (NULL: the configured one)
 * when it is gone; the new process adopts the device from its
 * --state-dir. */
int ud_upgrade(struct ud *ud, struct ud_dev *d, const char *bin);
/* Read the backend state of @d (0 if unknown). */
unsigned int ud_be_state(struct ud *ud, const struct ud_dev *d);

/* config.c */
int ud_config_load(struct ud *ud, const char *path);
/* Append the options for a device (config rules, then the xl line's
 * "uback:k=v,...:" params prefix) to argv; *image gets the path without
 * the prefix (or NULL to leave params to the data process). */
int ud_device_args(struct ud *ud, const struct ud_dev *d, char **argv,
		   int *argc, int max, char *image, size_t image_size);
/* Parse "uback:k=v,k=v:/path" (or a bare path): options into argv as
 * "--k" "v" (strdup'ed), only whitelisted knobs; -EINVAL on an unknown
 * knob. Shared with the tests. */
int ud_parse_params(const char *params, char **argv, int *argc, int max,
		    char *image, size_t image_size);

/* ctl.c */
int ud_ctl_open(struct ud *ud);
void ud_ctl_accept(struct ud *ud);
int ud_metrics_open(struct ud *ud);
void ud_metrics_accept(struct ud *ud);
void ud_ctl_close(struct ud *ud);

#endif /* UBACKD_H */
