/* SPDX-License-Identifier: MIT */
/*
 * vbd XenBus glue: what we publish (probe, connect) and how we read the
 * frontend's keys (hostile: strict integer parsing, every value bounded,
 * any malformed key fails connect with -EINVAL and the core reports it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "uback/log.h"
#include "fekeys.h"
#include "vbd.h"

struct blk_vbd {
	struct blk_vbd_config cfg;
	struct blk_disk disk;
	bool disk_open;
	struct blk_limits lim;
	unsigned int nr_queues;
	struct blk_queue *queues[BLK_MAX_QUEUES];
	/* What the current connection negotiated. */
	enum blk_abi abi;
	uint32_t ring_order;
	bool persistent;
	/* Counters of queues already stopped (earlier connections), so that
	 * the device totals survive disconnects and reconnects. */
	struct blk_stats retired;
};

void blk_vbd_config_defaults(struct blk_vbd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->direct = true;
	cfg->discard = true;
	cfg->persistent = true;
	cfg->max_queues = 4;
	cfg->max_ring_order = BLK_MAX_RING_ORDER;
	cfg->max_indirect_segs = BLK_DEFAULT_INDIRECT_SEGS;
	cfg->copy_pool_kib = BLK_DEFAULT_COPY_POOL_KIB;
	cfg->fixed_buffers = -1;
	cfg->poll_adaptive = true;
	cfg->coalesce = true;
	cfg->inline_io = -1;
}

int blk_vbd_create(const struct blk_vbd_config *cfg, struct blk_vbd **out)
{
	struct blk_vbd *vbd;

	if (!cfg->max_queues || cfg->max_queues > BLK_MAX_QUEUES ||
	    cfg->max_ring_order > BLK_MAX_RING_ORDER ||
	    cfg->max_indirect_segs > BLK_MAX_INDIRECT_SEGS_LIMIT ||
	    (cfg->max_indirect_segs &&
	     cfg->max_indirect_segs < BLKIF_MAX_SEGMENTS_PER_REQUEST))
		return -EINVAL;
	vbd = calloc(1, sizeof(*vbd));
	if (!vbd)
		return -ENOMEM;
	vbd->cfg = *cfg;
	vbd->disk.fd = -1;
	*out = vbd;
	return 0;
}

void blk_vbd_destroy(struct blk_vbd *vbd)
{
	if (!vbd)
		return;
	if (vbd->disk_open)
		blk_disk_close(&vbd->disk);
	free(vbd);
}

unsigned int blk_vbd_nr_queues(const struct blk_vbd *vbd)
{
	return vbd->nr_queues;
}

const struct blk_stats *blk_vbd_queue_stats(const struct blk_vbd *vbd,
					    unsigned int q)
{
	return q < vbd->nr_queues ? blk_queue_stats(vbd->queues[q]) : NULL;
}

void blk_vbd_print_stats(FILE *f, const struct blk_vbd *vbd)
{
	char prefix[16];
	unsigned int q;

	fprintf(f, "sectors=%" PRIu64 "\nreadonly=%d\ndirect=%d\n"
		"queues=%u\nring_order=%u\nprotocol=%s\npersistent=%d\n",
		vbd->disk_open ? vbd->disk.sectors : 0, vbd->lim.readonly,
		vbd->disk_open && vbd->disk.direct, vbd->nr_queues,
		vbd->ring_order, blk_abi_name(vbd->abi), vbd->persistent);
	struct blk_stats total = vbd->retired;

	for (q = 0; q < vbd->nr_queues; q++) {
		snprintf(prefix, sizeof(prefix), "q%u.", q);
		blk_stats_print(f, prefix, blk_queue_stats(vbd->queues[q]));
		blk_stats_add_totals(&total, blk_queue_stats(vbd->queues[q]));
	}
	/* Device totals since start, across reconnects (no gauges). */
	blk_stats_print(f, "total.", &total);
}

/* `params` may carry a format prefix (tap style "aio:/path"). */
static const char *strip_params(const char *p)
{
	static const char *const prefixes[] = { "aio:", "raw:", "file:",
						"phy:" };
	size_t i, n;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		if (!strncmp(p, prefixes[i], n))
			return p + n;
	}
	return p;
}

static int blk_probe(struct xb_dev *dev)
{
	struct blk_vbd *vbd = dev->priv;
	char params[1024], mode[8] = "w", num[6][24];
	struct xb_dev_kv kv[12];
	const char *path = vbd->cfg.image;
	uint64_t discard_enable = 1;
	bool readonly;
	size_t n = 0;
	int ret;

	if (!path) {
		ret = xb_dev_read_be_str(dev, "params", params, sizeof(params));
		if (ret) {
			xb_err("%s: no --image and no usable params key: %s",
			       dev->backend_path, strerror(-ret));
			return ret;
		}
		path = strip_params(params);
	}
	ret = xb_dev_read_be_str(dev, "mode", mode, sizeof(mode));
	if (ret && ret != -ENOENT)
		return ret;
	readonly = vbd->cfg.force_readonly || !strchr(mode, 'w');
	ret = xb_dev_read_be_u64(dev, "discard-enable", 1, &discard_enable);
	if (ret && ret != -ENOENT)
		discard_enable = 0;   /* malformed: the safe reading */

	if (vbd->disk_open)
		blk_disk_close(&vbd->disk);
	vbd->disk_open = false;
	ret = blk_disk_open(path, readonly, vbd->cfg.direct, &vbd->disk);
	if (ret)
		return ret;
	vbd->disk_open = true;

	vbd->lim = (struct blk_limits){
		.sectors = vbd->disk.sectors,
		.max_indirect_segs = vbd->cfg.max_indirect_segs,
		.readonly = readonly,
		.flush = !readonly,
		.barrier = !readonly,
		.discard = !readonly && vbd->cfg.discard && discard_enable &&
			   vbd->disk.discard,
		.discard_secure = vbd->disk.discard_secure,
	};
	if (!vbd->lim.discard)
		vbd->lim.discard_secure = false;

	/* Only keys for what we implement (and, for discard, may do). */
	if (vbd->lim.flush) {
		kv[n++] = (struct xb_dev_kv){ "feature-flush-cache", "1" };
		kv[n++] = (struct xb_dev_kv){ "feature-barrier", "1" };
	}
	if (vbd->lim.discard) {
		snprintf(num[0], sizeof(num[0]), "%u",
			 vbd->disk.discard_granularity);
		snprintf(num[1], sizeof(num[1]), "%u",
			 vbd->disk.discard_alignment);
		kv[n++] = (struct xb_dev_kv){ "feature-discard", "1" };
		kv[n++] = (struct xb_dev_kv){ "discard-granularity", num[0] };
		kv[n++] = (struct xb_dev_kv){ "discard-alignment", num[1] };
		kv[n++] = (struct xb_dev_kv){ "discard-secure",
					      vbd->lim.discard_secure ? "1"
								      : "0" };
	}
	if (vbd->cfg.persistent)
		kv[n++] = (struct xb_dev_kv){ "feature-persistent", "1" };
	if (vbd->cfg.max_indirect_segs) {
		snprintf(num[2], sizeof(num[2]), "%u",
			 vbd->cfg.max_indirect_segs);
		kv[n++] = (struct xb_dev_kv){ "feature-max-indirect-segments",
					      num[2] };
	}
	snprintf(num[3], sizeof(num[3]), "%u", vbd->cfg.max_ring_order);
	kv[n++] = (struct xb_dev_kv){ "max-ring-page-order", num[3] };
	snprintf(num[4], sizeof(num[4]), "%u", vbd->cfg.max_queues);
	kv[n++] = (struct xb_dev_kv){ "multi-queue-max-queues", num[4] };
	ret = xb_dev_write_be_kv(dev, kv, n);
	if (ret) {
		blk_disk_close(&vbd->disk);
		vbd->disk_open = false;
	}
	return ret;
}

static int fe_read(void *arg, const char *key, char *buf, size_t size,
		   size_t *len)
{
	return xb_dev_read_fe_bytes(arg, key, buf, size, len);
}

static void stop_queues(struct blk_vbd *vbd)
{
	while (vbd->nr_queues)
		blk_queue_stop(vbd->queues[--vbd->nr_queues], &vbd->retired);
}

static int connect_queues(struct xb_dev *dev, bool adopt)
{
	struct blk_vbd *vbd = dev->priv;
	struct blk_queue_config qc;
	struct blk_fe_keys fk;
	char num[3][24];
	struct xb_dev_kv kv[4];
	uint32_t nq;
	unsigned int q;
	int ret;

	if (!vbd->disk_open)
		return -ENODEV;
	ret = blk_fe_keys_parse(vbd->cfg.max_queues, vbd->cfg.max_ring_order,
				fe_read, dev, &fk);
	if (ret) {
		if (ret == -EINVAL)
			xb_err("%s: bad frontend key %s (max %u queues, ring "
			       "order %u)", dev->backend_path, fk.bad_key,
			       vbd->cfg.max_queues, vbd->cfg.max_ring_order);
		else
			xb_err("%s: cannot read the frontend keys: %s",
			       dev->backend_path, strerror(-ret));
		return -EINVAL;
	}
	vbd->abi = fk.abi;
	vbd->persistent = fk.persistent && vbd->cfg.persistent;
	vbd->ring_order = fk.ring_order;
	nq = fk.nr_queues;

	for (q = 0; q < nq; q++) {
		memset(&qc, 0, sizeof(qc));
		memcpy(qc.ring_refs, fk.ring_refs[q], sizeof(qc.ring_refs));
		qc.remote_port = fk.ports[q];
		qc.hv = dev->hv;
		qc.domid = dev->frontend_id;
		qc.index = q;
		qc.abi = vbd->abi;
		qc.ring_order = vbd->ring_order;
		qc.fd = vbd->disk.fd;
		qc.blockdev = vbd->disk.blockdev;
		qc.limits = vbd->lim;
		qc.persistent = vbd->persistent;
		qc.persist_max = vbd->cfg.persist_max;
		qc.persist_idle_ns = (uint64_t)vbd->cfg.persist_idle_s *
				     1000000000ull;
		qc.poll_us = vbd->cfg.poll_us;
		qc.poll_adaptive = vbd->cfg.poll_adaptive;
		qc.coalesce = vbd->cfg.coalesce;
		qc.copy_pool_kib = vbd->cfg.copy_pool_kib;
		if (vbd->cfg.nr_cpus) {
			qc.pin_cpu = true;
			qc.cpu = vbd->cfg.cpus[q % vbd->cfg.nr_cpus];
		}
		qc.fixed_buffers = vbd->cfg.fixed_buffers > 0 ||
				   (vbd->cfg.fixed_buffers < 0 &&
				    vbd->disk.blockdev && vbd->disk.direct);
		qc.engine = vbd->cfg.engine;
		qc.inline_rw = vbd->cfg.inline_io > 0 ||
			       (vbd->cfg.inline_io < 0 && vbd->disk.memory);
		if (vbd->cfg.journal)
			qc.journal_fd = &vbd->cfg.journal_fd[q];
		qc.adopt = adopt;
		ret = blk_queue_start(&qc, &vbd->queues[q]);
		if (ret)
			goto err_stop;
		vbd->nr_queues = q + 1;
	}

	if (adopt) {
		/* The frontend read the properties long ago: leave them. */
		xb_info("%s: adopted dom%u: %u queue(s), ring order %u, %s, "
			"persistent %s", dev->backend_path, dev->frontend_id,
			vbd->nr_queues, vbd->ring_order,
			blk_abi_name(vbd->abi), vbd->persistent ? "on" : "off");
		return 0;
	}
	/* Device properties, before the core writes Connected. */
	snprintf(num[0], sizeof(num[0]), "%" PRIu64, vbd->disk.sectors);
	snprintf(num[1], sizeof(num[1]), "%u", vbd->disk.sector_size);
	snprintf(num[2], sizeof(num[2]), "%u", vbd->disk.physical_sector_size);
	kv[0] = (struct xb_dev_kv){ "sectors", num[0] };
	kv[1] = (struct xb_dev_kv){ "info",
				    vbd->lim.readonly ? "4" : "0" };
	kv[2] = (struct xb_dev_kv){ "sector-size", num[1] };
	kv[3] = (struct xb_dev_kv){ "physical-sector-size", num[2] };
	ret = xb_dev_write_be_kv(dev, kv, 4);
	if (ret)
		goto err_stop;
	xb_info("%s: connected dom%u: %u queue(s), ring order %u, %s, "
		"persistent %s, %" PRIu64 " sectors%s%s",
		dev->backend_path, dev->frontend_id, vbd->nr_queues,
		vbd->ring_order, blk_abi_name(vbd->abi),
		vbd->persistent ? "on" : "off", vbd->disk.sectors,
		vbd->lim.readonly ? ", read-only" : "",
		vbd->disk.direct ? ", O_DIRECT" : ", buffered");
	return 0;

err_stop:
	stop_queues(vbd);
	return ret;
}

static int blk_connect(struct xb_dev *dev)
{
	return connect_queues(dev, false);
}

/* A live device whose previous process is gone: the journals say where
 * it stopped (journal.h). Without a state dir there is nothing to adopt
 * from. */
static int blk_adopt(struct xb_dev *dev)
{
	struct blk_vbd *vbd = dev->priv;

	if (!vbd->cfg.journal)
		return -ENOENT;
	return connect_queues(dev, true);
}

static void blk_disconnect(struct xb_dev *dev)
{
	struct blk_vbd *vbd = dev->priv;

	stop_queues(vbd);
	xb_info("%s: disconnected", dev->backend_path);
}

static void blk_remove(struct xb_dev *dev)
{
	struct blk_vbd *vbd = dev->priv;

	stop_queues(vbd);
	if (vbd->disk_open)
		blk_disk_close(&vbd->disk);
	vbd->disk_open = false;
}

const struct xb_dev_ops blk_vbd_ops = {
	.kind = "vbd",
	.probe = blk_probe,
	.connect = blk_connect,
	.disconnect = blk_disconnect,
	.remove = blk_remove,
	.adopt = blk_adopt,
};

/* The same device served on backend/vbd3 (libxl backendtype=tap). */
const struct xb_dev_ops blk_vbd3_ops = {
	.kind = "vbd3",
	.probe = blk_probe,
	.connect = blk_connect,
	.disconnect = blk_disconnect,
	.remove = blk_remove,
	.adopt = blk_adopt,
};
