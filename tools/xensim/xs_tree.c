/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "xs_tree.h"

#define PERM_ALL (XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER)

/* ---- paths ---- */

static bool valid_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

/* Length of a leading "/local/domain/<id>/", else 0. */
static size_t local_prefix(const char *path)
{
	static const char base[] = "/local/domain/";
	size_t n = sizeof(base) - 1, digits = 0;

	if (strncmp(path, base, n) != 0)
		return 0;
	while (digits < 5 && isdigit((unsigned char)path[n + digits]))
		digits++;
	if (digits == 0 || path[n + digits] != '/')
		return 0;
	return n + digits + 1;
}

int xs_path_canonical(const char *in, uint32_t domid, bool allow_special,
		      char *out)
{
	size_t len = strlen(in), i;
	int n;

	if (len == 0)
		return -EINVAL;
	if (in[0] == '@') {
		if (!allow_special || len > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		for (i = 1; i < len; i++)
			if (!valid_char(in[i]))
				return -EINVAL;
		memcpy(out, in, len + 1);
		return 0;
	}
	if (in[0] == '/') {
		if (len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		memcpy(out, in, len + 1);
	} else {
		if (len > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		n = snprintf(out, XENSTORE_ABS_PATH_MAX + 1,
			     "/local/domain/%u/%s", domid, in);
		if (n < 0 || n > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		len = (size_t)n;
	}
	for (i = 0; i < len; i++) {
		if (!valid_char(out[i]))
			return -EINVAL;
		if (out[i] == '/' && out[i + 1] == '/')
			return -EINVAL;
	}
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	/* xenstored 4.17: at most 2048 bytes below /local/domain/<id>/ (or
	 * in all, elsewhere), whoever asks. */
	if (len > local_prefix(out) + XENSTORE_REL_PATH_MAX)
		return -EINVAL;
	return 0;
}

bool xs_path_is_child(const char *path, const char *base)
{
	size_t blen = strlen(base);

	if (strcmp(base, "/") == 0)
		return path[0] == '/';
	return strncmp(path, base, blen) == 0 &&
	       (path[blen] == '\0' || path[blen] == '/');
}

/* ---- permissions ---- */

int xs_perm_parse(const char *s, struct xs_perm *out)
{
	unsigned long id;
	char *end;

	switch (s[0]) {
	case 'r': out->perms = XS_PERM_READ; break;
	case 'w': out->perms = XS_PERM_WRITE; break;
	case 'b': out->perms = XS_PERM_READ | XS_PERM_WRITE; break;
	case 'n': out->perms = XS_PERM_NONE; break;
	default: return -EINVAL;
	}
	if (!isdigit((unsigned char)s[1]))
		return -EINVAL;
	errno = 0;
	id = strtoul(s + 1, &end, 10);
	if (errno || *end || id > XS_DOMID_MAX)
		return -EINVAL;
	out->id = (uint32_t)id;
	return 0;
}

unsigned int xs_perm_format(const struct xs_perm *perm, char *buf)
{
	static const char letter[] = { 'n', 'r', 'w', 'b' };

	return (unsigned int)sprintf(buf, "%c%u",
				     letter[perm->perms & 3], perm->id) + 1;
}

unsigned int xs_perm_for(const struct xs_who *who, const struct xs_perm *perms,
			 unsigned int nperms)
{
	unsigned int i;

	if (who->priv || who->replay)
		return PERM_ALL;
	if (perms[0].id == who->domid ||
	    (who->target >= 0 && perms[0].id == (uint32_t)who->target))
		return PERM_ALL;
	for (i = 1; i < nperms; i++)
		if (perms[i].id == who->domid)
			return perms[i].perms;
	if (who->target >= 0)
		for (i = 1; i < nperms; i++)
			if (perms[i].id == (uint32_t)who->target)
				return perms[i].perms;
	return perms[0].perms;
}

unsigned int xs_tree_perm_for(const struct xs_who *who,
			      const struct xs_node *node)
{
	return xs_perm_for(who, node->perms, node->nperms);
}

/* ---- owner accounting (quota) ---- */

static struct xs_owner_count *owner_slot(struct xs_tree *tree, uint32_t domid,
					 bool create)
{
	unsigned int i;

	for (i = 0; i < tree->nowners; i++)
		if (tree->owners[i].domid == domid)
			return &tree->owners[i];
	if (!create)
		return NULL;
	if (tree->nowners == tree->owners_cap) {
		unsigned int cap = tree->owners_cap ? tree->owners_cap * 2 : 8;
		struct xs_owner_count *o = realloc(tree->owners,
						   cap * sizeof(*o));

		if (!o)
			return NULL;
		tree->owners = o;
		tree->owners_cap = cap;
	}
	tree->owners[tree->nowners] = (struct xs_owner_count){ domid, 0 };
	return &tree->owners[tree->nowners++];
}

unsigned int xs_tree_owned(const struct xs_tree *tree, uint32_t domid)
{
	unsigned int i;

	for (i = 0; i < tree->nowners; i++)
		if (tree->owners[i].domid == domid)
			return tree->owners[i].nodes;
	return 0;
}

static int owner_add(struct xs_tree *tree, uint32_t domid)
{
	struct xs_owner_count *o = owner_slot(tree, domid, true);

	if (!o)
		return -ENOMEM;
	o->nodes++;
	return 0;
}

static void owner_sub(struct xs_tree *tree, uint32_t domid)
{
	struct xs_owner_count *o = owner_slot(tree, domid, false);

	if (o && o->nodes)
		o->nodes--;
}

/* ---- nodes ---- */

static void node_free(struct xs_tree *tree, struct xs_node *node)
{
	unsigned int i;

	if (!node)
		return;
	for (i = 0; i < node->nkids; i++)
		node_free(tree, node->kids[i]);
	if (tree) {
		owner_sub(tree, node->perms[0].id);
		tree->nodes--;
	}
	free(node->kids);
	free(node->value);
	free(node->perms);
	free(node->name);
	free(node);
}

static struct xs_node *node_new(const char *name, size_t namelen,
				const struct xs_perm *perms,
				unsigned int nperms)
{
	struct xs_node *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->name = strndup(name, namelen);
	node->perms = malloc(nperms * sizeof(*perms));
	if (!node->name || !node->perms) {
		free(node->name);
		free(node->perms);
		free(node);
		return NULL;
	}
	memcpy(node->perms, perms, nperms * sizeof(*perms));
	node->nperms = nperms;
	return node;
}

static int node_add_kid(struct xs_node *parent, struct xs_node *kid)
{
	if (parent->nkids == parent->kcap) {
		unsigned int cap = parent->kcap ? parent->kcap * 2 : 4;
		struct xs_node **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->kcap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	kid->parent = parent;
	return 0;
}

static void node_del_kid(struct xs_node *parent, struct xs_node *kid)
{
	unsigned int i;

	for (i = 0; i < parent->nkids; i++) {
		if (parent->kids[i] == kid) {
			memmove(&parent->kids[i], &parent->kids[i + 1],
				(parent->nkids - i - 1) * sizeof(kid));
			parent->nkids--;
			return;
		}
	}
}

static struct xs_node *kid_lookup(const struct xs_node *node, const char *name,
				  size_t len)
{
	unsigned int i;

	for (i = 0; i < node->nkids; i++) {
		struct xs_node *k = node->kids[i];

		if (strncmp(k->name, name, len) == 0 && k->name[len] == '\0')
			return k;
	}
	return NULL;
}

int xs_tree_init(struct xs_tree *tree, uint64_t *gen)
{
	static const struct xs_perm root_perm = { 0, XS_PERM_NONE };

	memset(tree, 0, sizeof(*tree));
	tree->gen = gen;
	tree->root = node_new("", 0, &root_perm, 1);
	if (!tree->root)
		return -ENOMEM;
	tree->root->gen = ++*gen;
	tree->nodes = 1;
	if (owner_add(tree, 0) < 0) {
		node_free(NULL, tree->root);
		return -ENOMEM;
	}
	return 0;
}

void xs_tree_fini(struct xs_tree *tree)
{
	node_free(NULL, tree->root);
	free(tree->owners);
	memset(tree, 0, sizeof(*tree));
}

static struct xs_node *node_clone(const struct xs_node *src)
{
	struct xs_node *dst = node_new(src->name, strlen(src->name),
				       src->perms, src->nperms);
	unsigned int i;

	if (!dst)
		return NULL;
	dst->gen = src->gen;
	if (src->vlen) {
		dst->value = malloc(src->vlen);
		if (!dst->value)
			goto err;
		memcpy(dst->value, src->value, src->vlen);
		dst->vlen = src->vlen;
	}
	if (src->nkids) {
		dst->kids = calloc(src->nkids, sizeof(*dst->kids));
		if (!dst->kids)
			goto err;
		dst->kcap = src->nkids;
	}
	for (i = 0; i < src->nkids; i++) {
		struct xs_node *k = node_clone(src->kids[i]);

		if (!k)
			goto err;
		k->parent = dst;
		dst->kids[dst->nkids++] = k;
	}
	return dst;
err:
	node_free(NULL, dst);
	return NULL;
}

int xs_tree_clone(const struct xs_tree *src, struct xs_tree *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->gen = src->gen;
	dst->root = node_clone(src->root);
	if (!dst->root)
		return -ENOMEM;
	dst->nodes = src->nodes;
	if (src->nowners) {
		dst->owners = malloc(src->nowners * sizeof(*dst->owners));
		if (!dst->owners) {
			node_free(NULL, dst->root);
			dst->root = NULL;
			return -ENOMEM;
		}
		memcpy(dst->owners, src->owners,
		       src->nowners * sizeof(*dst->owners));
		dst->nowners = dst->owners_cap = src->nowners;
	}
	return 0;
}

struct xs_node *xs_tree_lookup(const struct xs_tree *tree, const char *path)
{
	struct xs_node *node = tree->root;
	const char *p = path;

	if (p[0] != '/')
		return NULL;
	while (node && *p) {
		const char *comp = p + 1, *end;

		if (*comp == '\0')
			break;       /* "/" itself */
		end = strchr(comp, '/');
		if (!end)
			end = comp + strlen(comp);
		node = kid_lookup(node, comp, (size_t)(end - comp));
		p = end;
	}
	return node;
}

/* The deepest existing node on the way to @path (the node itself if it
 * exists); @rest points at the unresolved suffix ("" if it exists). */
static struct xs_node *lookup_prefix(const struct xs_tree *tree,
				     const char *path, const char **rest)
{
	struct xs_node *node = tree->root, *kid;
	const char *p = path;

	while (*p && p[1]) {
		const char *comp = p + 1, *end = strchr(comp, '/');

		if (!end)
			end = comp + strlen(comp);
		kid = kid_lookup(node, comp, (size_t)(end - comp));
		if (!kid)
			break;
		node = kid;
		p = end;
	}
	*rest = (*p && p[1]) ? p : "";
	return node;
}

static void hook_access_len(struct xs_tree *tree, const char *path,
			    size_t len, const struct xs_node *node)
{
	if (tree->hooks.access)
		tree->hooks.access(tree->hooks.arg, path, len ? len : 1, node);
}

static void hook_access(struct xs_tree *tree, const char *path,
			const struct xs_node *node)
{
	hook_access_len(tree, path, strlen(path), node);
}

/* An absent node is recorded as its deepest existing ancestor: creating
 * anything below that ancestor changes its generation. */
static void hook_access_absent(struct xs_tree *tree, const char *path)
{
	const char *rest;
	struct xs_node *anc = lookup_prefix(tree, path, &rest);

	hook_access_len(tree, path, (size_t)(rest - path), anc);
}

static void hook_change(struct xs_tree *tree, const char *path,
			const struct xs_node *node, enum xs_change what,
			const struct xs_perm *old, unsigned int nold)
{
	if (tree->hooks.change)
		tree->hooks.change(tree->hooks.arg, path, node, what, old,
				   nold);
}

static void touch(struct xs_tree *tree, struct xs_node *node)
{
	node->gen = ++*tree->gen;
}

/* xenstored answers EACCES rather than ENOENT when the caller could not
 * even read the deepest existing ancestor (it must not learn what exists). */
static int absent_error(struct xs_tree *tree, const struct xs_who *who,
			const char *path, unsigned int want)
{
	const char *rest;
	struct xs_node *anc = lookup_prefix(tree, path, &rest);

	return (xs_tree_perm_for(who, anc) & want) ? -ENOENT : -EACCES;
}

int xs_tree_get(struct xs_tree *tree, const struct xs_who *who,
		const char *path, const struct xs_node **out)
{
	struct xs_node *node = xs_tree_lookup(tree, path);

	if (!node) {
		hook_access_absent(tree, path);
		return absent_error(tree, who, path, XS_PERM_READ);
	}
	hook_access(tree, path, node);
	if (!(xs_tree_perm_for(who, node) & XS_PERM_READ))
		return -EACCES;
	*out = node;
	return 0;
}

static int set_value(struct xs_node *node, const void *data, unsigned int len)
{
	char *v = NULL;

	if (len) {
		v = malloc(len);
		if (!v)
			return -ENOMEM;
		memcpy(v, data, len);
	}
	free(node->value);
	node->value = v;
	node->vlen = len;
	return 0;
}

/* Create the missing components @rest below @anc; returns the last. */
static int create_path(struct xs_tree *tree, const struct xs_who *who,
		       struct xs_node *anc, const char *path, const char *rest,
		       struct xs_node **out)
{
	unsigned int missing = 0;
	const char *p;
	int err;

	for (p = rest; *p; p++)
		if (*p == '/')
			missing++;
	if (!who->priv && !who->replay &&
	    xs_tree_owned(tree, who->domid) + missing > XS_QUOTA_NODES)
		return -ENOSPC;

	/* The deepest existing ancestor's child list changes. */
	hook_access_len(tree, path, (size_t)(rest - path), anc);
	for (p = rest; *p; ) {
		const char *comp = p + 1, *end = strchr(comp, '/');
		struct xs_node *kid;

		if (!end)
			end = comp + strlen(comp);
		kid = node_new(comp, (size_t)(end - comp), anc->perms,
			       anc->nperms);
		if (!kid)
			return -ENOMEM;
		/* Inherit the parent's permissions; an unprivileged creator
		 * becomes the owner (xenstored's construct_node). */
		if (!who->priv)
			kid->perms[0].id = who->domid;
		err = owner_add(tree, kid->perms[0].id);
		if (err) {
			node_free(NULL, kid);
			return err;
		}
		err = node_add_kid(anc, kid);
		if (err) {
			owner_sub(tree, kid->perms[0].id);
			node_free(NULL, kid);
			return err;
		}
		tree->nodes++;
		touch(tree, anc);
		touch(tree, kid);
		anc = kid;
		p = end;
	}
	*out = anc;
	return 0;
}

int xs_tree_write(struct xs_tree *tree, const struct xs_who *who,
		  const char *path, const void *data, unsigned int len)
{
	const char *rest;
	struct xs_node *node = lookup_prefix(tree, path, &rest);
	int err;

	if (!who->priv && !who->replay && data && len > XS_QUOTA_VALUE)
		return -ENOSPC;
	if (*rest == '\0') {
		hook_access(tree, path, node);
		if (!(xs_tree_perm_for(who, node) & XS_PERM_WRITE))
			return -EACCES;
		if (!data)
			return 0;    /* MKDIR of an existing node */
		err = set_value(node, data, len);
		if (err)
			return err;
		touch(tree, node);
	} else {
		if (!(xs_tree_perm_for(who, node) & XS_PERM_WRITE))
			return -EACCES;
		err = create_path(tree, who, node, path, rest, &node);
		if (err)
			return err;
		if (data) {
			err = set_value(node, data, len);
			if (err)
				return err;
		}
	}
	hook_change(tree, path, node, XS_CHANGE_NODE, NULL, 0);
	return 0;
}

int xs_tree_rm(struct xs_tree *tree, const struct xs_who *who,
	       const char *path)
{
	struct xs_node *node = xs_tree_lookup(tree, path), *parent;

	if (strcmp(path, "/") == 0)
		return -EINVAL;
	if (!node) {
		hook_access_absent(tree, path);
		const char *rest;
		struct xs_node *anc = lookup_prefix(tree, path, &rest);

		if (!(xs_tree_perm_for(who, anc) & XS_PERM_WRITE))
			return -EACCES;
		/* Absent is fine if the parent exists (only one missing
		 * component left), as the protocol says. */
		return strchr(rest + 1, '/') ? -ENOENT : 0;
	}
	hook_access(tree, path, node);
	if (!(xs_tree_perm_for(who, node) & XS_PERM_WRITE))
		return -EACCES;
	parent = node->parent;
	hook_access_len(tree, path, (size_t)(strrchr(path, '/') - path),
			parent);
	hook_change(tree, path, node, XS_CHANGE_RM, NULL, 0);
	node_del_kid(parent, node);
	touch(tree, parent);
	node_free(tree, node);
	return 0;
}

int xs_tree_set_perms(struct xs_tree *tree, const struct xs_who *who,
		      const char *path, const struct xs_perm *perms,
		      unsigned int nperms)
{
	struct xs_node *node = xs_tree_lookup(tree, path);
	struct xs_perm *copy, *old;
	unsigned int nold;
	int err;

	if (nperms == 0)
		return -EINVAL;
	if (!node) {
		hook_access_absent(tree, path);
		return absent_error(tree, who, path, XS_PERM_WRITE);
	}
	hook_access(tree, path, node);
	if (!(xs_tree_perm_for(who, node) & XS_PERM_OWNER))
		return -EACCES;
	if (!who->priv && !who->replay) {
		if (perms[0].id != node->perms[0].id)
			return -EPERM;
		if (nperms > XS_QUOTA_PERMS)
			return -ENOSPC;
	}
	copy = malloc(nperms * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, perms, nperms * sizeof(*copy));
	if (perms[0].id != node->perms[0].id) {
		err = owner_add(tree, perms[0].id);
		if (err) {
			free(copy);
			return err;
		}
		owner_sub(tree, node->perms[0].id);
	}
	old = node->perms;
	nold = node->nperms;
	node->perms = copy;
	node->nperms = nperms;
	touch(tree, node);
	/* Watchers who could read it before hear that they no longer can. */
	hook_change(tree, path, node, XS_CHANGE_NODE, old, nold);
	free(old);
	return 0;
}

static void forget_in(struct xs_tree *tree, struct xs_node *node,
		      uint32_t domid)
{
	unsigned int i, j;

	if (node->perms[0].id == domid && domid != 0) {
		owner_sub(tree, domid);
		node->perms[0].id = 0;
		owner_add(tree, 0);   /* slot 0 exists since init: no alloc */
	}
	for (i = j = 1; i < node->nperms; i++)
		if (node->perms[i].id != domid)
			node->perms[j++] = node->perms[i];
	node->nperms = j;
	for (i = 0; i < node->nkids; i++)
		forget_in(tree, node->kids[i], domid);
}

void xs_tree_forget_domain(struct xs_tree *tree, uint32_t domid)
{
	forget_in(tree, tree->root, domid);
}
