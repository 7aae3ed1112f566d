/* SPDX-License-Identifier: MIT */
/*
 * ubackd's per-device options: the config file's rules and the knobs an
 * operator puts in the xl line's target ("uback:queues=2,poll-us=50:/img").
 *
 * Config file (trusted, root's): one rule a line, '#' comments,
 *   vbd-args OPTIONS...           every vbd (uback-blk options)
 *   vif-args OPTIONS...           every vif (uback-net options)
 *   domain NAME vbd|vif OPTIONS...  devices of the domain named NAME
 *   image PATH OPTIONS...         the vbd whose image is PATH
 * applied in that order (later options win: getopt keeps the last).
 * The xl line's knobs come last, and only whitelisted ones are accepted
 * from there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uback/log.h"
#include "uback/xs.h"
#include "ubackd.h"

/* Knobs accepted from the xl line: name, takes a value. */
static const struct {
	const char *name;
	bool value;
} knobs[] = {
	{ "queues", true }, { "ring-order", true }, { "indirect-segs", true },
	{ "poll-us", true }, { "persist-max", true }, { "persist-idle", true },
	{ "copy-pool", true }, { "no-persistent", false },
	{ "no-discard", false }, { "no-direct", false }, { "readonly", false },
};

#define PARAMS_PREFIX "uback:"

static int push(char **argv, int *argc, int max, const char *s, size_t n)
{
	if (*argc >= max)
		return -E2BIG;
	argv[*argc] = strndup(s, n);
	if (!argv[*argc])
		return -ENOMEM;
	(*argc)++;
	return 0;
}

static int push_words(char **argv, int *argc, int max, const char *s)
{
	int ret;

	while (*s) {
		size_t n;

		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (!n)
			break;
		ret = push(argv, argc, max, s, n);
		if (ret)
			return ret;
		s += n;
	}
	return 0;
}

int ud_parse_params(const char *params, char **argv, int *argc, int max,
		    char *image, size_t image_size)
{
	const char *p, *end;
	char opt[40];
	int ret;

	if (strncmp(params, PARAMS_PREFIX, strlen(PARAMS_PREFIX))) {
		if (image_size)
			image[0] = '\0';
		return 0;
	}
	p = params + strlen(PARAMS_PREFIX);
	end = strchr(p, ':');
	if (!end || !end[1])
		return -EINVAL;
	if ((size_t)snprintf(image, image_size, "%s", end + 1) >= image_size)
		return -ENAMETOOLONG;
	while (p < end) {
		size_t n = strcspn(p, ",:"), k, i;
		const char *eq = memchr(p, '=', n);

		k = eq ? (size_t)(eq - p) : n;
		for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
			if (strlen(knobs[i].name) == k &&
			    !strncmp(knobs[i].name, p, k))
				break;
		if (i == sizeof(knobs) / sizeof(knobs[0]) ||
		    knobs[i].value != !!eq || (eq && eq + 1 == p + n))
			return -EINVAL;
		snprintf(opt, sizeof(opt), "--%s", knobs[i].name);
		ret = push(argv, argc, max, opt, strlen(opt));
		if (!ret && eq)
			ret = push(argv, argc, max, eq + 1,
				   n - (size_t)(eq + 1 - p));
		if (ret)
			return ret;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* On failure the rules read so far stay in @ud (the caller frees them). */
int ud_config_load(struct ud *ud, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[4096];
	unsigned int lineno = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *s = line, *w[3] = { NULL, NULL, NULL }, *rest;
		struct ud_rule r = { 0 }, *nr;
		int nw = 0, need;

		lineno++;
		s[strcspn(s, "#\n")] = '\0';
		/* Up to three leading words, then the options. */
		need = 1;
		while (nw < need) {
			s += strspn(s, " \t");
			if (!*s)
				break;
			w[nw++] = s;
			s += strcspn(s, " \t");
			if (*s)
				*s++ = '\0';
			if (nw == 1)
				need = !strcmp(w[0], "domain") ? 3
				       : !strcmp(w[0], "image") ? 2 : 1;
		}
		if (!nw)
			continue;
		rest = s;
		if (!strcmp(w[0], "vbd-args") || !strcmp(w[0], "vif-args")) {
			r.type = UD_RULE_KIND;
			r.kind = strndup(w[0], 3);
		} else if (!strcmp(w[0], "image") && nw == 2) {
			r.type = UD_RULE_IMAGE;
			r.kind = strdup("vbd");
			r.match = strdup(w[1]);
		} else if (!strcmp(w[0], "domain") && nw == 3 &&
			   (!strcmp(w[2], "vbd") || !strcmp(w[2], "vif"))) {
			r.type = UD_RULE_DOMAIN;
			r.kind = strdup(w[2]);
			r.match = strdup(w[1]);
		} else {
			xb_err("%s:%u: unknown rule", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		r.args = strdup(rest);
		nr = realloc(ud->rules, (ud->nrules + 1) * sizeof(*nr));
		if (nr)
			ud->rules = nr;   /* the caller frees what is there */
		if (!nr || !r.kind || !r.args ||
		    (r.type != UD_RULE_KIND && !r.match)) {
			free(r.kind);
			free(r.match);
			free(r.args);
			fclose(f);
			return -ENOMEM;
		}
		ud->rules[ud->nrules++] = r;
	}
	fclose(f);
	return 0;
}

int ud_device_args(struct ud *ud, const struct ud_dev *d, char **argv,
		   int *argc, int max, char *image, size_t image_size)
{
	char path[192], *params = NULL, *name = NULL;
	const char *img = NULL;
	unsigned int pass, i;
	int ret = 0;

	image[0] = '\0';
	snprintf(path, sizeof(path), "%s/params", d->be_path);
	if (!strcmp(d->kind, "vbd") &&
	    !xb_xs_read(ud->xs, XBT_NULL, path, &params))
		img = params;
	snprintf(path, sizeof(path), "/local/domain/%u/name", d->domid);
	if (xb_xs_read(ud->xs, XBT_NULL, path, &name))
		name = NULL;
	if (img && !strncmp(img, PARAMS_PREFIX, strlen(PARAMS_PREFIX))) {
		const char *c = strchr(img + strlen(PARAMS_PREFIX), ':');

		img = c ? c + 1 : img;
	}
	for (pass = 0; pass < 3 && !ret; pass++)
		for (i = 0; i < ud->nrules && !ret; i++) {
			const struct ud_rule *r = &ud->rules[i];

			if ((unsigned int)r->type != pass ||
			    strcmp(r->kind, d->kind))
				continue;
			if (r->type == UD_RULE_IMAGE &&
			    (!img || strcmp(img, r->match)))
				continue;
			if (r->type == UD_RULE_DOMAIN &&
			    (!name || strcmp(name, r->match)))
				continue;
			ret = push_words(argv, argc, max, r->args);
		}
	if (!ret && params)
		ret = ud_parse_params(params, argv, argc, max, image,
				      image_size);
	free(params);
	free(name);
	return ret;
}
