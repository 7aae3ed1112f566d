/* SPDX-License-Identifier: MIT */
/*
 * fio external ioengine: fio's I/O goes through a simulated Xen blkfront
 * (tools/blkfront) to a blkif backend (uback-blk) under xensim.
 *
 *   fio --ioengine=external:/path/to/fio-uback-blkfront.so \
 *       --image=/dev/shm/disk.img --uback_blk=/path/to/uback-blk \
 *       --rw=randwrite --verify=crc32c --size=64m --name=t
 *
 * Each fio job (process, or thread with thread=1) gets its own simulated
 * guest domain, its own vbd device and, unless spawn_backend=0, its own
 * uback-blk process serving it; all go away at the end of the job.
 *
 * Built against fio's own headers (scripts/fio-src), so the layouts of
 * thread_data, io_u and ioengine_ops match the fio that loads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"
#include "verify.h"

#include <blkfront.h>
#include <uback/ring.h>
#include <xensim/guest.h>

#define UBF_DEVID_XVDA 51712u
#define UBF_DEFAULT_CMD "%u --hv sim --log warn %b"

struct ubf_options {
	void *pad;              /* fio: off1 must not be 0 */
	char *xensim_dir;
	char *image;
	char *uback_blk;
	char *backend_cmd;
	unsigned int spawn_backend;
	unsigned int queues;
	unsigned int ring_order;
	unsigned int persistent;
	unsigned int indirect;
	char *abi;
	unsigned int flush;
	unsigned int discard;
	unsigned int guest_mem_mb;
	unsigned int devid;
	unsigned int domid;
	unsigned int timeout_s;
	unsigned int poll_us;
	char *stats_file;
};

struct ubf_data {
	struct xg_sim *sim;
	struct xg_dom *dom;
	domid_t domid;
	unsigned int devid;
	bool device;
	pid_t backend;
	struct blkfront *bf;
	struct blkfront_info info;
	unsigned int next_queue;
	struct blkfront_completion *comps;
	struct io_u **events;
	unsigned int nr_events;
	unsigned int max_events;
	void *mem;
	size_t mem_len;
	bool mem_guest;
};

#define OFF(f) offsetof(struct ubf_options, f)

static struct fio_option options[] = {
	{ .name = "xensim_dir", .lname = "xensim directory",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(xensim_dir),
	  .help = "xensim --dir (default: $XENSIM_DIR)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "image", .lname = "backing image",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(image),
	  .help = "file the backend serves (backend key params)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "uback_blk", .lname = "uback-blk binary",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(uback_blk),
	  .help = "backend binary (default: $UBACK_BLK, else uback-blk)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "backend_cmd", .lname = "backend command",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(backend_cmd),
	  .help = "backend command line; %u binary, %b backend path, "
		  "%d domid, %v devid, %i image, %s xensim dir",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "spawn_backend", .lname = "spawn the backend",
	  .type = FIO_OPT_BOOL, .off1 = OFF(spawn_backend), .def = "1",
	  .help = "start a backend per job (0: one already watches)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "queues", .lname = "blkif queues",
	  .type = FIO_OPT_INT, .off1 = OFF(queues), .def = "1",
	  .minval = 1, .maxval = BLKFRONT_MAX_QUEUES,
	  .help = "multi-queue-num-queues wanted",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "ring_order", .lname = "ring page order",
	  .type = FIO_OPT_INT, .off1 = OFF(ring_order), .def = "0",
	  .minval = 0, .maxval = BLKFRONT_MAX_RING_ORDER,
	  .help = "ring-page-order wanted",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "persistent", .lname = "persistent grants",
	  .type = FIO_OPT_BOOL, .off1 = OFF(persistent), .def = "0",
	  .help = "feature-persistent",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "indirect", .lname = "indirect segments",
	  .type = FIO_OPT_INT, .off1 = OFF(indirect), .def = "0",
	  .minval = 0, .maxval = BLKFRONT_MAX_INDIRECT,
	  .help = "max indirect segments (0: direct requests only)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "abi", .lname = "ring ABI",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(abi), .def = "x86_64",
	  .help = "x86_64, x86_32 or none (no protocol key)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "flush", .lname = "use flush",
	  .type = FIO_OPT_BOOL, .off1 = OFF(flush), .def = "1",
	  .help = "fsync as FLUSH_DISKCACHE (else WRITE_BARRIER) if offered",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "discard", .lname = "use discard",
	  .type = FIO_OPT_BOOL, .off1 = OFF(discard), .def = "1",
	  .help = "trim as BLKIF_OP_DISCARD if offered",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "guest_mem_mb", .lname = "guest memory",
	  .type = FIO_OPT_INT, .off1 = OFF(guest_mem_mb), .def = "512",
	  .minval = 16, .maxval = 65536,
	  .help = "simulated guest memory in MiB",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "devid", .lname = "virtual device",
	  .type = FIO_OPT_INT, .off1 = OFF(devid), .def = "51712",
	  .help = "vbd device id (51712: xvda)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "domid", .lname = "guest domain id",
	  .type = FIO_OPT_INT, .off1 = OFF(domid), .def = "0",
	  .minval = 0, .maxval = DOMID_FIRST_RESERVED - 1,
	  .help = "guest domain id (0: the simulator picks one)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "timeout_s", .lname = "handshake timeout",
	  .type = FIO_OPT_INT, .off1 = OFF(timeout_s), .def = "30",
	  .minval = 1, .maxval = 3600,
	  .help = "seconds to wait for each XenBus step",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "poll_us", .lname = "completion polling",
	  .type = FIO_OPT_INT, .off1 = OFF(poll_us), .def = "0",
	  .minval = 0, .maxval = 1000000,
	  .help = "spin up to this many us for completions before sleeping "
		  "on the event channel (0: sleep at once)",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = "stats_file", .lname = "frontend counters",
	  .type = FIO_OPT_STR_STORE, .off1 = OFF(stats_file),
	  .help = "write the blkfront's notification counters (name=value "
		  "lines) to this file at the end of the job",
	  .category = FIO_OPT_C_ENGINE, .group = FIO_OPT_G_INVALID },
	{ .name = NULL },
};

/* Size of what the job addresses: the image (or fio's own size). */
static int ubf_setup(struct thread_data *td)
{
	struct ubf_options *o = td->eo;
	struct fio_file *f;
	struct stat st;

	if (!td->files_index) {
		add_file(td, "uback-blkfront", 0, 0);
		td->o.nr_files = td->o.nr_files ? : 1;
		td->o.open_files++;
	}
	f = td->files[0];
	if (o->image && stat(o->image, &st) == 0)
		f->real_file_size = (uint64_t)st.st_size;
	else if (td->o.size)
		f->real_file_size = td->o.size;
	else {
		log_err("uback-blkfront: no image= and no size=\n");
		return 1;
	}
	fio_file_set_size_known(f);
	return 0;
}

/* Split @tmpl on spaces and substitute the %-fields. */
static int build_argv(struct ubf_options *o, const char *be_path,
		      domid_t domid, const char *dir, char ***argvp)
{
	const char *bin = o->uback_blk ? o->uback_blk
			  : getenv("UBACK_BLK") ? getenv("UBACK_BLK")
			  : "uback-blk";
	const char *tmpl = o->backend_cmd && *o->backend_cmd ? o->backend_cmd
							     : UBF_DEFAULT_CMD;
	char *copy = strdup(tmpl), *save = NULL, *tok;
	char **argv = calloc(64, sizeof(*argv));
	unsigned int n = 0;

	if (!copy || !argv)
		goto err;
	for (tok = strtok_r(copy, " ", &save); tok && n < 63;
	     tok = strtok_r(NULL, " ", &save)) {
		char buf[512];
		size_t k = 0;
		const char *p;

		for (p = tok; *p && k < sizeof(buf) - 1; p++) {
			char num[32];
			const char *sub = NULL;

			if (*p != '%' || !p[1]) {
				buf[k++] = *p;
				continue;
			}
			p++;
			switch (*p) {
			case 'u': sub = bin; break;
			case 'b': sub = be_path; break;
			case 'i': sub = o->image ? o->image : ""; break;
			case 's': sub = dir ? dir : ""; break;
			case 'd':
				snprintf(num, sizeof(num), "%u", domid);
				sub = num;
				break;
			case 'v':
				snprintf(num, sizeof(num), "%u", o->devid);
				sub = num;
				break;
			default:
				buf[k++] = *p;
				continue;
			}
			while (*sub && k < sizeof(buf) - 1)
				buf[k++] = *sub++;
		}
		buf[k] = 0;
		argv[n] = strdup(buf);
		if (!argv[n])
			goto err;
		n++;
	}
	free(copy);
	*argvp = argv;
	return 0;
err:
	free(copy);
	if (argv)
		for (n = 0; argv[n]; n++)
			free(argv[n]);
	free(argv);
	return -ENOMEM;
}

/*
 * Start the backend with posix_spawn: fio jobs may be threads, and a
 * forked child of a threaded process may only make async-signal-safe
 * calls before exec (a plain fork + setenv could deadlock on a lock
 * another thread held). The environment is built here; the child gets
 * default signal handlers and an empty signal mask (fio blocks some).
 */
static int spawn_backend(struct ubf_options *o, struct ubf_data *d,
			 const char *be_path, const char *dir)
{
	extern char **environ;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char **argv, **envp = NULL, *xd = NULL;
	unsigned int i, n = 0, k = 0;
	pid_t pid;
	int ret;

	ret = build_argv(o, be_path, d->domid, dir, &argv);
	if (ret)
		return ret;
	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (!envp || (dir && asprintf(&xd, "XENSIM_DIR=%s", dir) < 0)) {
		xd = NULL;
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!xd || strncmp(environ[i], "XENSIM_DIR=", 11))
			envp[k++] = environ[i];
	if (xd)
		envp[k++] = xd;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	ret = -posix_spawnp(&pid, argv[0], NULL, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	if (!ret)
		d->backend = pid;
	else
		log_err("uback-blkfront: spawn %s: %s\n", argv[0],
			strerror(-ret));
out:
	free(xd);
	free(envp);
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
	return ret;
}

static void stop_backend(struct ubf_data *d)
{
	int i, st;

	if (d->backend <= 0)
		return;
	kill(d->backend, SIGTERM);
	for (i = 0; i < 500; i++) {
		if (waitpid(d->backend, &st, WNOHANG) == d->backend)
			goto done;
		usleep(10000);
	}
	kill(d->backend, SIGKILL);
	waitpid(d->backend, &st, 0);
done:
	d->backend = 0;
}

static enum blkfront_abi parse_abi(const char *s, bool *ok)
{
	*ok = true;
	if (!s || !strcmp(s, "x86_64") || !strcmp(s, "x86_64-abi"))
		return BLKFRONT_ABI_X86_64;
	if (!strcmp(s, "x86_32") || !strcmp(s, "x86_32-abi"))
		return BLKFRONT_ABI_X86_32;
	if (!strcmp(s, "none") || !strcmp(s, "unset"))
		return BLKFRONT_ABI_UNSET;
	*ok = false;
	return BLKFRONT_ABI_UNSET;
}

static void ubf_teardown(struct ubf_data *d)
{
	if (d->bf)
		blkfront_close(d->bf);
	d->bf = NULL;
	stop_backend(d);
	if (d->device)
		xg_device_remove(d->sim, d->domid, "vbd", "vbd",
				 d->devid);
	d->device = false;
	if (d->dom)
		xg_dom_destroy(d->dom);
	d->dom = NULL;
	if (d->sim)
		xg_sim_disconnect(d->sim);
	d->sim = NULL;
}

static int ubf_init(struct thread_data *td)
{
	struct ubf_options *o = td->eo;
	struct ubf_data *d;
	const char *dir = o->xensim_dir ? o->xensim_dir : getenv("XENSIM_DIR");
	struct xg_dom_config dc = { 0 };
	struct blkfront_config bc = { 0 };
	char be_path[128], name[64];
	bool abi_ok;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return 1;
	td->io_ops_data = d;
	d->max_events = td->o.iodepth ? td->o.iodepth : 1;
	d->comps = calloc(d->max_events, sizeof(*d->comps));
	d->events = calloc(d->max_events, sizeof(*d->events));
	if (!d->comps || !d->events)
		return 1;
	bc.abi = parse_abi(o->abi, &abi_ok);
	if (!abi_ok) {
		log_err("uback-blkfront: abi=%s: want x86_64, x86_32 or none\n",
			o->abi);
		return 1;
	}
	if (o->spawn_backend && !o->image) {
		log_err("uback-blkfront: image= is required to spawn a "
			"backend\n");
		return 1;
	}
	ret = xg_sim_connect(dir, &d->sim);
	if (ret) {
		log_err("uback-blkfront: no xensim at %s: %s\n",
			dir ? dir : "$XENSIM_DIR (unset)", strerror(-ret));
		return 1;
	}
	snprintf(name, sizeof(name), "fio-%s-%d", td->o.name ? td->o.name
			: "job", td->thread_number);
	dc.mem_pages = o->guest_mem_mb * 256u;
	dc.domid = (domid_t)o->domid;
	{
		/* Room for blkfront's bounce pools (depth x segments per
		 * queue, granted once with persistent grants), fio's
		 * buffers and the rings, whatever the options ask for. */
		uint64_t segs = o->indirect > 11 ? o->indirect : 11;
		uint64_t per_q = (uint64_t)d->max_events *
				 (segs + (segs > 11 ? (segs + 511) / 512 : 0));
		uint64_t pool = per_q * o->queues;
		uint64_t bs = td->o.max_bs[DDIR_READ] > td->o.max_bs[DDIR_WRITE]
			      ? td->o.max_bs[DDIR_READ]
			      : td->o.max_bs[DDIR_WRITE];
		uint64_t bufs = (uint64_t)d->max_events * ((bs + 4095) / 4096);
		uint64_t mem = pool + bufs + 4096, grants = 2 * pool + 4096;

		if (mem > (1u << 22))
			mem = 1u << 22;
		if (mem > dc.mem_pages)
			dc.mem_pages = (uint32_t)mem;
		dc.nr_grants = grants > (1u << 20) ? 1u << 20
						   : (uint32_t)grants;
	}
	dc.name = name;
	ret = xg_dom_create(d->sim, &dc, &d->dom);
	if (ret) {
		log_err("uback-blkfront: xg_dom_create: %s\n", strerror(-ret));
		goto err;
	}
	d->domid = xg_dom_id(d->dom);
	{
		char devid[16];
		const char *be_kv[] = {
			"params", o->image ? o->image : "",
			"type", "phy", "mode", "w", "device-type", "disk",
			"discard-enable", o->discard ? "1" : "0",
			"dev", "xvda", NULL,
		};
		const char *fe_kv[] = {
			"virtual-device", devid, "device-type", "disk",
			"trusted", "1", NULL,
		};

		snprintf(devid, sizeof(devid), "%u", o->devid);
		ret = xg_device_create(d->sim, d->domid, "vbd", "vbd", o->devid,
				       be_kv, fe_kv);
		if (ret) {
			log_err("uback-blkfront: xg_device_create: %s\n",
				strerror(-ret));
			goto err;
		}
		d->device = true;
		d->devid = o->devid;
	}
	snprintf(be_path, sizeof(be_path), "/local/domain/0/backend/vbd/%u/%u",
		 d->domid, o->devid);
	if (o->spawn_backend) {
		ret = spawn_backend(o, d, be_path, dir);
		if (ret) {
			log_err("uback-blkfront: spawn backend: %s\n",
				strerror(-ret));
			goto err;
		}
	}
	bc.dom = d->dom;
	bc.devid = o->devid;
	bc.ring_page_order = o->ring_order;
	bc.nr_queues = o->queues;
	bc.persistent = o->persistent;
	bc.max_indirect_segs = o->indirect;
	bc.use_flush = o->flush;
	bc.use_barrier = true;
	bc.use_discard = o->discard;
	bc.queue_depth = td->o.iodepth;
	bc.timeout_ms = (int)o->timeout_s * 1000;
	ret = blkfront_connect(&bc, &d->bf);
	if (ret) {
		log_err("uback-blkfront: connect to %s: %s\n", be_path,
			strerror(-ret));
		goto err;
	}
	blkfront_get_info(d->bf, &d->info);
	{
		unsigned long long lim = d->info.max_segs * 4096ull, bs = 0;

		if (td_read(td) || td->o.verify != VERIFY_NONE)
			bs = td->o.max_bs[DDIR_READ];
		if (td_write(td) && td->o.max_bs[DDIR_WRITE] > bs)
			bs = td->o.max_bs[DDIR_WRITE];
		if (bs > lim) {
			log_err("uback-blkfront: bs=%llu above %llu needs "
				"indirect=%llu\n", bs, lim, bs / 4096);
			goto err;
		}
	}
	return 0;
err:
	ubf_teardown(d);
	return 1;
}

/* The frontend's counters, for bench/blk (kicks and wake-ups per I/O). */
static void write_stats(const char *path, struct blkfront *bf)
{
	struct blkfront_info info;
	FILE *f;

	if (!path || !*path || !bf)
		return;
	blkfront_get_info(bf, &info);
	f = fopen(path, "w");
	if (!f) {
		log_err("uback-blkfront: %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "fe_pushes=%llu\nfe_kicks=%llu\nfe_rsp_rearms=%llu\n"
		"fe_waits=%llu\n", (unsigned long long)info.pushes,
		(unsigned long long)info.kicks,
		(unsigned long long)info.rsp_rearms,
		(unsigned long long)info.waits);
	fclose(f);
}

static void ubf_cleanup(struct thread_data *td)
{
	struct ubf_data *d = td->io_ops_data;
	struct ubf_options *o = td->eo;

	if (!d)
		return;
	write_stats(o->stats_file, d->bf);
	ubf_teardown(d);
	free(d->comps);
	free(d->events);
	free(d);
	td->io_ops_data = NULL;
}

static enum fio_q_status ubf_queue(struct thread_data *td, struct io_u *io_u)
{
	struct ubf_data *d = td->io_ops_data;
	struct iovec iov = {
		.iov_base = io_u->xfer_buf, .iov_len = io_u->xfer_buflen,
	};
	struct blkfront_req r = {
		.tag = (uintptr_t)io_u,
		.sector = io_u->offset >> 9,
		.iov = &iov,
		.iovcnt = 1,
	};
	int ret;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
		r.op = BLKFRONT_OP_READ;
		break;
	case DDIR_WRITE:
		r.op = BLKFRONT_OP_WRITE;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		r.iovcnt = 0;
		r.iov = NULL;
		if (d->info.flush) {
			r.op = BLKFRONT_OP_FLUSH;
		} else if (d->info.barrier) {
			r.op = BLKFRONT_OP_BARRIER;
		} else {
			/* No cache to flush was advertised: writes are
			 * durable when acknowledged. */
			io_u->error = 0;
			return FIO_Q_COMPLETED;
		}
		break;
	case DDIR_TRIM:
		if (!d->info.discard) {
			io_u->error = EOPNOTSUPP;
			return FIO_Q_COMPLETED;
		}
		r.op = BLKFRONT_OP_DISCARD;
		r.nr_sectors = io_u->xfer_buflen >> 9;
		r.iovcnt = 0;
		r.iov = NULL;
		break;
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	if ((io_u->offset | io_u->xfer_buflen) & 511) {
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	r.queue = d->next_queue;
	ret = blkfront_submit(d->bf, &r);
	if (ret == -EBUSY)
		return FIO_Q_BUSY;
	if (ret) {
		io_u->error = -ret;
		return FIO_Q_COMPLETED;
	}
	if (++d->next_queue >= d->info.nr_queues)
		d->next_queue = 0;
	return FIO_Q_QUEUED;
}

static int ubf_commit(struct thread_data *td)
{
	struct ubf_data *d = td->io_ops_data;

	return blkfront_kick(d->bf) ? -EIO : 0;
}

static int64_t ts_ms(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin on the rings (shared memory, no system call) for up to @us: a
 * sleeping thread woken through the event channel pays a cross-core
 * wake-up (~15 us on these machines). true if a response arrived. */
static bool spin_for_responses(struct ubf_data *d, unsigned int us)
{
	int64_t end = now_ns() + (int64_t)us * 1000;
	unsigned int i;

	do {
		for (i = 0; i < 64; i++) {
			if (blkfront_has_responses(d->bf))
				return true;
			xb_cpu_relax();
		}
	} while (now_ns() < end);
	return false;
}

static int ubf_getevents(struct thread_data *td, unsigned int min,
			 unsigned int max, const struct timespec *t)
{
	struct ubf_options *o = td->eo;
	struct ubf_data *d = td->io_ops_data;
	struct timespec start;
	unsigned int n = 0;
	int i, r;

	if (max > d->max_events)
		max = d->max_events;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = blkfront_poll(d->bf, d->comps, max - n);
		if (r < 0) {
			log_err("uback-blkfront: device lost: %s\n",
				strerror(-r));
			return r;
		}
		for (i = 0; i < r; i++) {
			struct io_u *io_u = (struct io_u *)(uintptr_t)
					    d->comps[i].tag;

			io_u->error = -d->comps[i].status;
			if (!io_u->error)
				io_u->resid = 0;
			d->events[n++] = io_u;
		}
		if (n >= min || n >= max)
			break;
		if (o->poll_us && spin_for_responses(d, o->poll_us))
			continue;
		if (t) {
			struct timespec now;
			int64_t left;

			clock_gettime(CLOCK_MONOTONIC, &now);
			left = ts_ms(t) - (ts_ms(&now) - ts_ms(&start));
			if (left <= 0)
				break;
			blkfront_wait(d->bf, (int)left);
		} else {
			blkfront_wait(d->bf, 1000);
		}
	}
	d->nr_events = n;
	return (int)n;
}

static struct io_u *ubf_event(struct thread_data *td, int event)
{
	struct ubf_data *d = td->io_ops_data;

	return d->events[event];
}

/* fio's I/O buffers in guest memory: the blkfront grants them directly
 * (zero copy) unless persistent grants make it copy anyway. */
static int ubf_iomem_alloc(struct thread_data *td, size_t total)
{
	struct ubf_data *d = td->io_ops_data;
	void *p = NULL;

	if (d && d->dom && !d->info.persistent &&
	    blkfront_dom_mem_alloc(d->dom, total, &p) == 0) {
		d->mem_guest = true;
	} else {
		if (d && d->dom && !d->info.persistent)
			log_info("uback-blkfront: no room in guest memory for "
				 "%zu bytes of buffers: copying (raise "
				 "guest_mem_mb)\n", total);
		if (posix_memalign(&p, 4096, total))
			return 1;
	}
	td->orig_buffer = p;
	if (d) {
		d->mem = p;
		d->mem_len = total;
	}
	return 0;
}

static void ubf_iomem_free(struct thread_data *td)
{
	struct ubf_data *d = td->io_ops_data;

	if (!d || !d->mem)
		return;
	if (d->mem_guest && d->dom)
		blkfront_dom_mem_free(d->dom, d->mem, d->mem_len);
	else if (!d->mem_guest)
		free(d->mem);
	d->mem = NULL;
	td->orig_buffer = NULL;
}

static int ubf_open_file(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int ubf_close_file(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int ubf_invalidate(struct thread_data *td, struct fio_file *f)
{
	return 0;
}

static int ubf_get_file_size(struct thread_data *td, struct fio_file *f)
{
	fio_file_set_size_known(f);
	return 0;
}

__attribute__((visibility("default")))
struct ioengine_ops ioengine = {
	.name = "uback-blkfront",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NODISKUTIL | FIO_NOEXTEND,
	.setup = ubf_setup,
	.init = ubf_init,
	.cleanup = ubf_cleanup,
	.queue = ubf_queue,
	.commit = ubf_commit,
	.getevents = ubf_getevents,
	.event = ubf_event,
	.open_file = ubf_open_file,
	.close_file = ubf_close_file,
	.invalidate = ubf_invalidate,
	.get_file_size = ubf_get_file_size,
	.iomem_alloc = ubf_iomem_alloc,
	.iomem_free = ubf_iomem_free,
	.options = options,
	.option_struct_size = sizeof(struct ubf_options),
};
