/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore: the node tree (internal to the xenstore server).
 *
 * A tree holds nodes addressed by canonical absolute paths (validated by the
 * caller with xs_path_canonical()). Every operation takes the identity of the
 * caller and applies xenstored's permission rules. A transaction works on a
 * clone of the whole tree; the hooks let the server record what a
 * transaction accessed and fire watches for what the main tree changed.
 *
 * Single-threaded (the simulator loop). Functions return 0 or -errno.
 */
#ifndef XENSIM_XS_TREE_H
#define XENSIM_XS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xenstore_lib.h>    /* XS_PERM_* */

/* Limits as xenstored's defaults (quota_* in xenstored_core.c). */
#define XS_QUOTA_NODES       1000  /* nodes owned by one unprivileged domain */
#define XS_QUOTA_VALUE       2048  /* value bytes written by a domain */
#define XS_QUOTA_PERMS       5     /* permission entries set by a domain */
#define XS_DOMID_MAX         65535u

struct xs_perm {
	uint32_t id;
	uint32_t perms;              /* XS_PERM_READ | XS_PERM_WRITE */
};

/* Who performs an operation. */
struct xs_who {
	uint32_t domid;
	bool priv;                   /* dom0: bypasses permissions and quotas */
	int32_t target;              /* SET_TARGET: owns its nodes too; -1 */
	bool replay;                 /* tx commit: checks already done */
};

struct xs_node {
	char *name;                  /* last component; "" for the root */
	struct xs_node *parent;
	struct xs_node **kids;       /* in creation order, as xenstored lists */
	unsigned int nkids, kcap;
	char *value;
	unsigned int vlen;
	struct xs_perm *perms;       /* [0]: owner, and default for others */
	unsigned int nperms;
	uint64_t gen;                /* changed on value, perms or children */
};

enum xs_change {
	XS_CHANGE_NODE,              /* written, created, perms changed */
	XS_CHANGE_RM,                /* @node and its subtree are removed */
};

struct xs_tree_hooks {
	/* Before the node at the first @len bytes of @path is read or
	 * modified (for an absent node: its deepest existing ancestor). */
	void (*access)(void *arg, const char *path, size_t len,
		       const struct xs_node *node);
	/* After a change (for RM: before the subtree is freed). @old: the
	 * permissions before a SET_PERMS (NULL otherwise). */
	void (*change)(void *arg, const char *path, const struct xs_node *node,
		       enum xs_change what, const struct xs_perm *old,
		       unsigned int nold);
	void *arg;
};

struct xs_owner_count {
	uint32_t domid;
	uint32_t nodes;
};

struct xs_tree {
	struct xs_node *root;
	uint64_t *gen;               /* shared by a tree and its clones */
	struct xs_owner_count *owners;
	unsigned int nowners, owners_cap;
	unsigned int nodes;          /* all nodes, root included */
	struct xs_tree_hooks hooks;
};

/* Root node "/" owned by dom0, no access for others. */
int xs_tree_init(struct xs_tree *tree, uint64_t *gen);
void xs_tree_fini(struct xs_tree *tree);
/* Deep copy (generations preserved, hooks cleared). */
int xs_tree_clone(const struct xs_tree *src, struct xs_tree *dst);

/* No permission check, no hooks. */
struct xs_node *xs_tree_lookup(const struct xs_tree *tree, const char *path);
unsigned int xs_tree_perm_for(const struct xs_who *who,
			      const struct xs_node *node);
/* The same for a bare permission list (special watch paths). */
unsigned int xs_perm_for(const struct xs_who *who, const struct xs_perm *perms,
			 unsigned int nperms);
unsigned int xs_tree_owned(const struct xs_tree *tree, uint32_t domid);

/* READ, DIRECTORY, GET_PERMS: @out valid until the tree changes. */
int xs_tree_get(struct xs_tree *tree, const struct xs_who *who,
		const char *path, const struct xs_node **out);
/* WRITE (@data of @len bytes) or, with @data NULL, MKDIR (no change if the
 * node exists). Missing parents are created with empty values. */
int xs_tree_write(struct xs_tree *tree, const struct xs_who *who,
		  const char *path, const void *data, unsigned int len);
/* RM: removes the subtree; fine if @path is absent but its parent is not,
 * -ENOENT if the parent is absent too, -EINVAL for "/". */
int xs_tree_rm(struct xs_tree *tree, const struct xs_who *who,
	       const char *path);
/* SET_PERMS: owner (or privileged) only; only the privileged may change
 * the owner. */
int xs_tree_set_perms(struct xs_tree *tree, const struct xs_who *who,
		      const char *path, const struct xs_perm *perms,
		      unsigned int nperms);
/* A domain is gone: nodes it owned pass to dom0, entries naming it are
 * dropped (so a later domain with the same id inherits nothing). */
void xs_tree_forget_domain(struct xs_tree *tree, uint32_t domid);

/* Path helpers. @in is what a client sent (NUL-terminated). Relative paths
 * are taken below /local/domain/<domid>. Writes the absolute path to @out
 * (XENSTORE_ABS_PATH_MAX + 1 bytes). Special watch paths (@...) are
 * accepted only with @allow_special. -EINVAL if invalid. */
int xs_path_canonical(const char *in, uint32_t domid, bool allow_special,
		      char *out);
/* True if @path is @base or below it ("/" is above everything). */
bool xs_path_is_child(const char *path, const char *base);

/* "r5" etc. Returns 0 or -EINVAL. */
int xs_perm_parse(const char *s, struct xs_perm *out);
/* Writes "r5\0" etc. into @buf (>= 8 bytes); returns length with the NUL. */
unsigned int xs_perm_format(const struct xs_perm *perm, char *buf);

#endif
