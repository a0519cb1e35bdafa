/*
 * ota_clientid: a Mosquitto 2.0 broker plugin (plugin API version 5) that binds MQTT client
 * ids to the credential that connects with them, so that no device can take another
 * device's session over (Mosquitto disconnects the older of two connections with one id).
 *
 * On MOSQ_EVT_BASIC_AUTH, before the password file is consulted:
 *   - A client id containing '&' names a device credential: its prefix up to the second '&'
 *     or the first '/' after the first '&' (the whole id when there is neither) must equal the
 *     connecting user name: "P&d", "P&d&sub", "P&d/pub" belong to user "P&d" only. Otherwise
 *     the connection is refused (MOSQ_ERR_AUTH, CONNACK "not authorised").
 *   - A client id without '&' is free, except ids starting with the reserved prefix
 *     ("ota-backend" unless plugin_opt_reserved_prefix says otherwise), which only the
 *     service user (plugin_opt_service_user, default "ota-backend") may use.
 *   - A live connection owns its client id: an id held by a live connection of another user
 *     is refused, so a free-form id ("foo123") cannot be used to knock its holder offline. A
 *     connection of the same user may take the id over (a device reconnecting).
 *   - Everything else returns MOSQ_ERR_PLUGIN_DEFER: the password file (and, for every
 *     message, the ACL file) still decide, exactly as without the plugin.
 *
 * Ownership (client id -> user name and connection) is recorded on MOSQ_EVT_ACL_CHECK, i.e. on
 * the first subscribe or publish of an authenticated connection (the ACL check always returns
 * MOSQ_ERR_PLUGIN_DEFER), and dropped on that connection's MOSQ_EVT_DISCONNECT (clean
 * disconnects, lost sockets, keepalive timeouts, session takeovers; refused connections too,
 * which never own an id). Mosquitto 2.0 also runs ACL checks for connections that are gone (the
 * will of a lost connection right after its DISCONNECT event, messages queued for an offline
 * persistent session, check_retain_source), so an id is recorded only for a connection that is
 * live: between its MOSQ_EVT_BASIC_AUTH and its MOSQ_EVT_DISCONNECT (a second table, keyed by
 * connection). Both tables hold live connections only: memory stays bounded. A connection that
 * has not subscribed or published yet owns nothing. Without the DISCONNECT event (it exists
 * since Mosquitto 2.0.0) ownership is not enforced at all, as it could never be released.
 *
 * Device credentials changed live (plugin_opt_device_control true): the service user publishes
 * to $CONTROL/ota-devices/v1 lines of
 *     seq <token>          echoed in the answer (first line, optional)
 *     add <user> <hex>     a new device credential (secret hex-encoded)
 *     set <user> <hex>     a changed secret: the user's live connections are disconnected
 *     del <user>           a removed device: refused from now on, live connections disconnected
 *     ping                 nothing (does the broker have this plugin?)
 * and the plugin answers on $CONTROL/ota-devices/v1/response to the publishing client id:
 * "<token> ok <lines applied>" or "<token> error <line number> <reason>". These entries are
 * checked before the password file, so adding, removing or rotating one device needs no reload
 * (a SIGHUP reload re-reads the whole password file: 180 ms unresponsive at 100,000 devices). The
 * backend still writes the password file for the next start; a reload (which follows a full
 * rewrite) forgets these entries, the file then being complete. Secrets live here in memory only.
 *
 * Configuration:
 *   plugin /path/to/ota_clientid.so
 *   plugin_opt_service_user ota-backend
 *
 * Build (headers from Debian's mosquitto-dev):
 *   gcc -shared -fPIC -O2 -o ota_clientid.so ota_clientid.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#  if __has_include(<mosquitto.h>)
#    include <mosquitto.h>
#  endif
#endif
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

/* mosquitto.h (libmosquitto-dev) is not needed for these few constants of the 2.0 ABI. */
#ifndef LIBMOSQUITTO_MAJOR
#  define MOSQ_ERR_SUCCESS 0
#  define MOSQ_ERR_NOMEM 1
#  define MOSQ_ERR_INVAL 3
#  define MOSQ_ERR_AUTH 11
#  define MOSQ_ERR_ACL_DENIED 12
#  define MOSQ_ERR_PLUGIN_DEFER 17
#  define MOSQ_LOG_INFO (1 << 0)
#  define MOSQ_LOG_NOTICE (1 << 1)
#  define MOSQ_LOG_WARNING (1 << 2)
#  define MOSQ_LOG_ERR (1 << 3)
#endif

#define DEFAULT_SERVICE_USER "ota-backend"
#define DEFAULT_RESERVED_PREFIX "ota-backend"

static mosquitto_plugin_id_t *plugin_id = NULL;
static char *service_user = NULL;
static char *reserved_prefix = NULL;
static int track_owners = 0; /* the DISCONNECT and ACL_CHECK callbacks are registered */
static int device_acl = 0;   /* plugin_opt_device_acl true: this plugin decides devices' ACL */
static int device_control = 0; /* plugin_opt_device_control true: credentials over $CONTROL */

#define CONTROL_TOPIC "$CONTROL/ota-devices/v1"
#define CONTROL_RESPONSE_TOPIC CONTROL_TOPIC "/response"

/* ------------------------------------------------------------------ hash tables
 * Chained hash tables. owners: client id (strdup'd) -> user name (strdup'd, NULL for an
 * anonymous client) and the connection that owns it. live: connections between their
 * BASIC_AUTH and their DISCONNECT (keyed by the pointer only; never dereferenced). */
struct node {
	struct node *next;
	size_t hash;
	const struct mosquitto *client;
	char *id;       /* owners only */
	char *username; /* owners only */
};

struct table {
	struct node **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

static struct table owners = {NULL, 0, 0};
static struct table live = {NULL, 0, 0};

#define INITIAL_BUCKETS 256

static size_t hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	while(*id){
		h ^= (unsigned char)*id++;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static size_t hash_client(const struct mosquitto *client)
{
	uint64_t h = (uint64_t)(uintptr_t)client;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

static void node_free(struct node *n)
{
	free(n->id);
	free(n->username);
	free(n);
}

/* The link pointing at the owner of id, or at the NULL ending its chain. */
static struct node **find_id(struct table *t, const char *id, size_t hash)
{
	struct node **link;
	if(t->nbuckets == 0){
		return NULL;
	}
	for(link = &t->buckets[hash & (t->nbuckets - 1)]; *link; link = &(*link)->next){
		if((*link)->hash == hash && strcmp((*link)->id, id) == 0){
			break;
		}
	}
	return link;
}

static struct node **find_client(struct table *t, const struct mosquitto *client, size_t hash)
{
	struct node **link;
	if(t->nbuckets == 0){
		return NULL;
	}
	for(link = &t->buckets[hash & (t->nbuckets - 1)]; *link; link = &(*link)->next){
		if((*link)->client == client){
			break;
		}
	}
	return link;
}

/* Grow to twice the buckets when there are more entries than buckets (best effort). */
static int table_reserve(struct table *t)
{
	struct node **grown;
	struct node *n, *next;
	size_t size, i;

	if(t->nbuckets != 0 && t->count < t->nbuckets){
		return MOSQ_ERR_SUCCESS;
	}
	size = t->nbuckets ? t->nbuckets * 2 : INITIAL_BUCKETS;
	grown = calloc(size, sizeof(*grown));
	if(grown == NULL){
		return t->nbuckets ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM; /* longer chains will do */
	}
	for(i = 0; i < t->nbuckets; i++){
		for(n = t->buckets[i]; n; n = next){
			next = n->next;
			n->next = grown[n->hash & (size - 1)];
			grown[n->hash & (size - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = grown;
	t->nbuckets = size;
	return MOSQ_ERR_SUCCESS;
}

static void table_add(struct table *t, struct node *n)
{
	struct node **bucket = &t->buckets[n->hash & (t->nbuckets - 1)];
	n->next = *bucket;
	*bucket = n;
	t->count++;
}

static void table_unlink(struct table *t, struct node **link)
{
	struct node *n = *link;
	*link = n->next;
	t->count--;
	node_free(n);
}

static void table_clear(struct table *t)
{
	struct node *n, *next;
	size_t i;
	for(i = 0; i < t->nbuckets; i++){
		for(n = t->buckets[i]; n; n = next){
			next = n->next;
			node_free(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

static char *dup_or_null(const char *s, int *failed);

/* ------------------------------------------------------------------ credentials overlay
 * user name -> secret (removed: refused). Reuses struct node: id = user name, username = the
 * secret (NULL for a removed user). */
static struct table creds = {NULL, 0, 0};

/* 1: the password matches, 0: it does not (or the user was removed), -1: not in the overlay. */
static int overlay_check(const char *user, const char *password)
{
	struct node **link;
	const char *secret;
	size_t i, len;
	unsigned char diff = 0;

	if(user == NULL || creds.count == 0){
		return -1;
	}
	link = find_id(&creds, user, hash_id(user));
	if(link == NULL || *link == NULL){
		return -1;
	}
	secret = (*link)->username;
	if(secret == NULL || password == NULL){
		return 0;
	}
	len = strlen(secret);
	if(strlen(password) != len){
		return 0;
	}
	for(i = 0; i < len; i++){
		diff |= (unsigned char)(secret[i] ^ password[i]);
	}
	return diff == 0;
}

/* Record user -> secret (NULL: removed). MOSQ_ERR_NOMEM when memory runs out. */
static int overlay_put(const char *user, const char *secret)
{
	size_t hash = hash_id(user);
	struct node **link;
	struct node *n;
	char *copy = NULL;
	int failed = 0;

	if(secret != NULL && (copy = strdup(secret)) == NULL){
		return MOSQ_ERR_NOMEM;
	}
	link = find_id(&creds, user, hash);
	if(link != NULL && *link != NULL){
		free((*link)->username);
		(*link)->username = copy;
		return MOSQ_ERR_SUCCESS;
	}
	if(table_reserve(&creds) != MOSQ_ERR_SUCCESS || (n = calloc(1, sizeof(*n))) == NULL){
		free(copy);
		return MOSQ_ERR_NOMEM;
	}
	n->hash = hash;
	n->id = dup_or_null(user, &failed);
	n->username = copy;
	if(failed){
		node_free(n);
		return MOSQ_ERR_NOMEM;
	}
	table_add(&creds, n);
	return MOSQ_ERR_SUCCESS;
}

static int same_user(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

static char *dup_or_null(const char *s, int *failed)
{
	char *copy;
	if(s == NULL){
		return NULL;
	}
	copy = strdup(s);
	if(copy == NULL){
		*failed = 1;
	}
	return copy;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	int i;
	for(i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5){
			return 5;
		}
	}
	return -1;
}

/* Length of the credential name at the start of a client id containing '&'. */
static size_t credential_prefix_len(const char *id, const char *amp)
{
	const char *end = amp + 1;
	while(*end && *end != '&' && *end != '/'){
		end++;
	}
	return (size_t)(end - id);
}

static int refuse(const char *id, const char *user, const char *why)
{
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "ota_clientid: refused client id '%s' for user '%s': %s.",
			id, user ? user : "", why);
	return MOSQ_ERR_AUTH;
}

/* A connection being authenticated is live until its DISCONNECT event. */
static void mark_live(const struct mosquitto *client)
{
	size_t hash = hash_client(client);
	struct node **link = find_client(&live, client, hash);
	struct node *n;

	if(link != NULL && *link != NULL){
		return;
	}
	if(table_reserve(&live) != MOSQ_ERR_SUCCESS || (n = calloc(1, sizeof(*n))) == NULL){
		return; /* out of memory: this connection will own no id */
	}
	n->hash = hash;
	n->client = client;
	table_add(&live, n);
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *id;
	const char *user;
	const char *amp;
	size_t n;

	(void)event;
	(void)userdata;

	id = mosquitto_client_id(ed->client);
	user = ed->username;
	if(id == NULL){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	amp = strchr(id, '&');
	if(amp != NULL){
		n = credential_prefix_len(id, amp);
		if(user == NULL || strlen(user) != n || memcmp(user, id, n) != 0){
			return refuse(id, user, "the client id belongs to another credential");
		}
	}else if(reserved_prefix[0] && strncmp(id, reserved_prefix, strlen(reserved_prefix)) == 0){
		if(user == NULL || strcmp(user, service_user) != 0){
			return refuse(id, user, "the client id is reserved for the service user");
		}
	}
	if(track_owners){
		struct node **owner = find_id(&owners, id, hash_id(id));
		if(owner != NULL && *owner != NULL && !same_user((*owner)->username, user)){
			return refuse(id, user, "the client id is in use by a live connection of another credential");
		}
		mark_live(ed->client);
	}
	switch(device_control ? overlay_check(user, ed->password) : -1){
		case 1:
			return MOSQ_ERR_SUCCESS;
		case 0:
			return MOSQ_ERR_AUTH;
		default:
			return MOSQ_ERR_PLUGIN_DEFER; /* the password file decides */
	}
}

/* Record the client id of a live, authenticated connection that publishes or subscribes. */
static int record_owner(struct mosquitto_evt_acl_check *ed)
{
	const char *id;
	const char *user;
	struct node **link;
	struct node *n;
	size_t hash;
	int failed = 0;

	link = find_client(&live, ed->client, hash_client(ed->client));
	if(link == NULL || *link == NULL){
		return MOSQ_ERR_PLUGIN_DEFER; /* gone (a will, an offline session) or never authenticated here */
	}
	id = mosquitto_client_id(ed->client);
	if(id == NULL){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	hash = hash_id(id);
	user = mosquitto_client_username(ed->client);
	link = find_id(&owners, id, hash);
	if(link != NULL && *link != NULL){
		if((*link)->client == ed->client){
			return MOSQ_ERR_PLUGIN_DEFER; /* the usual case: nothing to do */
		}
		/* Mosquitto keeps one connection per id and this one is live: the entry is stale. */
		table_unlink(&owners, link);
	}
	if(table_reserve(&owners) != MOSQ_ERR_SUCCESS || (n = calloc(1, sizeof(*n))) == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "ota_clientid: out of memory; client id '%s' is not bound.", id);
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	n->hash = hash;
	n->client = ed->client;
	n->id = dup_or_null(id, &failed);
	n->username = dup_or_null(user, &failed);
	if(failed){
		node_free(n);
		mosquitto_log_printf(MOSQ_LOG_WARNING, "ota_clientid: out of memory; client id '%s' is not bound.", id);
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	table_add(&owners, n);
	return MOSQ_ERR_PLUGIN_DEFER;
}

/* Whether topic is "$ota/<direction>/<one level>/<product>/<device>" for user "<product>&<device>". */
static int own_topic(const char *topic, const char *direction, const char *user, const char *amp)
{
	size_t dlen = strlen(direction);
	const char *kind;
	const char *rest;
	size_t plen = (size_t)(amp - user);

	if(strncmp(topic, "$ota/", 5) != 0 || strncmp(topic + 5, direction, dlen) != 0 || topic[5 + dlen] != '/'){
		return 0;
	}
	kind = topic + 5 + dlen + 1;
	rest = strchr(kind, '/');
	if(rest == NULL || rest == kind){
		return 0;
	}
	rest++; /* "<product>/<device>" must be the user name with '/' for its '&' */
	return strncmp(rest, user, plen) == 0 && rest[plen] == '/' && strcmp(rest + plen + 1, amp + 1) == 0;
}

/* A device credential ("P&d") may publish to $ota/up/+/P/d and receive $ota/down/+/P/d, nothing
 * else; subscribing is always granted, as with Mosquitto's ACL file (delivery is what is checked).
 * Deciding this here, from the user name, keeps the ACL file constant: adding, removing or
 * rotating a device only rewrites the password file (a SIGHUP reload in Mosquitto is then linear
 * in the number of devices; per-user ACL file entries made it quadratic). */
static int check_device(const struct mosquitto_evt_acl_check *ed)
{
	const char *user = mosquitto_client_username(ed->client);
	const char *amp;

	if(user == NULL || (amp = strchr(user, '&')) == NULL || amp == user || amp[1] == '\0'){
		return MOSQ_ERR_PLUGIN_DEFER; /* the service user, or no credential: the ACL file decides */
	}
	switch(ed->access){
		case MOSQ_ACL_SUBSCRIBE:
		case MOSQ_ACL_UNSUBSCRIBE:
			return MOSQ_ERR_SUCCESS;
		case MOSQ_ACL_WRITE:
			return own_topic(ed->topic, "up", user, amp) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		case MOSQ_ACL_READ:
			return own_topic(ed->topic, "down", user, amp) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
		default:
			return MOSQ_ERR_ACL_DENIED;
	}
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;

	(void)event;
	(void)userdata;
	if(track_owners){
		record_owner(ed);
	}
	return device_acl ? check_device(ed) : MOSQ_ERR_PLUGIN_DEFER;
}

/* A connection ends (also a refused one, whose id may be NULL by now): it owns nothing anymore. */
static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	const char *id;
	struct node **link;

	(void)event;
	(void)userdata;

	link = find_client(&live, ed->client, hash_client(ed->client));
	if(link != NULL && *link != NULL){
		table_unlink(&live, link);
	}
	id = mosquitto_client_id(ed->client);
	if(id != NULL){
		link = find_id(&owners, id, hash_id(id));
		if(link != NULL && *link != NULL && (*link)->client == ed->client){
			table_unlink(&owners, link);
		}
	}
	return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ $CONTROL/ota-devices/v1 */

static int hex_value(char c)
{
	if(c >= '0' && c <= '9') return c - '0';
	if(c >= 'a' && c <= 'f') return c - 'a' + 10;
	if(c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Decodes hex in place (NUL-terminated); 0 when it is not an even run of hex digits or holds a NUL. */
static int unhex(char *text)
{
	size_t i, len = strlen(text);
	int hi, lo;

	if(len == 0 || len % 2 != 0){
		return 0;
	}
	for(i = 0; i < len / 2; i++){
		hi = hex_value(text[2 * i]);
		lo = hex_value(text[2 * i + 1]);
		if(hi < 0 || lo < 0 || (hi == 0 && lo == 0)){
			return 0;
		}
		text[i] = (char)(hi * 16 + lo);
	}
	text[len / 2] = '\0';
	return 1;
}

/* One command line (NUL-terminated, modified in place): NULL when applied, else the reason. */
static const char *control_line(char *line, char *seq, size_t seq_size)
{
	char *verb = strtok(line, " ");
	char *user = strtok(NULL, " ");
	char *secret = strtok(NULL, " ");

	if(verb == NULL){
		return NULL; /* blank line */
	}
	if(strcmp(verb, "seq") == 0 && user != NULL && secret == NULL){
		snprintf(seq, seq_size, "%s", user);
		return NULL;
	}
	if(strcmp(verb, "ping") == 0 && user == NULL){
		return NULL;
	}
	if(user == NULL || strtok(NULL, " ") != NULL){
		return "malformed line";
	}
	if(strchr(user, '&') == NULL){
		return "not a device user name";
	}
	if(strcmp(verb, "del") == 0 && secret == NULL){
		if(overlay_put(user, NULL) != MOSQ_ERR_SUCCESS){
			return "out of memory";
		}
		mosquitto_kick_client_by_username(user, false);
		return NULL;
	}
	if((strcmp(verb, "add") == 0 || strcmp(verb, "set") == 0) && secret != NULL){
		if(!unhex(secret)){
			return "the secret is not hex";
		}
		if(overlay_put(user, secret) != MOSQ_ERR_SUCCESS){
			return "out of memory";
		}
		if(verb[0] == 's'){
			mosquitto_kick_client_by_username(user, false); /* connected with the old secret */
		}
		return NULL;
	}
	return "unknown command";
}

static int on_control(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_control *ed = event_data;
	const char *user = mosquitto_client_username(ed->client);
	const char *id = mosquitto_client_id(ed->client);
	const char *problem = NULL;
	char seq[64] = "-";
	char answer[256];
	char *text, *line, *next;
	long applied = 0, number = 0;

	(void)event;
	(void)userdata;
	if(user == NULL || strcmp(user, service_user) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "ota_clientid: %s from user '%s' ignored.", CONTROL_TOPIC, user ? user : "");
		return MOSQ_ERR_ACL_DENIED;
	}
	text = malloc((size_t)ed->payloadlen + 1);
	if(text == NULL){
		problem = "out of memory";
	}else{
		memcpy(text, ed->payload, (size_t)ed->payloadlen);
		text[ed->payloadlen] = '\0';
		if(memchr(ed->payload, '\0', (size_t)ed->payloadlen) != NULL){
			problem = "NUL in the payload";
		}
		for(line = text; problem == NULL && line != NULL; line = next){
			next = strchr(line, '\n');
			if(next != NULL){
				*next++ = '\0';
			}
			number++;
			problem = control_line(line, seq, sizeof(seq));
			if(problem == NULL && line[0] != '\0' && strcmp(line, "seq") != 0 && strcmp(line, "ping") != 0){
				applied++;
			}
		}
		free(text);
	}
	if(problem != NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "ota_clientid: %s line %ld: %s.", CONTROL_TOPIC, number, problem);
		snprintf(answer, sizeof(answer), "%s error %ld %s", seq, number, problem);
	}else{
		snprintf(answer, sizeof(answer), "%s ok %ld", seq, applied);
	}
	if(id != NULL){
		mosquitto_broker_publish_copy(id, CONTROL_RESPONSE_TOPIC, (int)strlen(answer), answer, 1, false, NULL);
	}
	return MOSQ_ERR_SUCCESS;
}

/* A reload follows a complete rewrite of the password file: it decides again. */
static int on_reload(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	table_clear(&creds);
	return MOSQ_ERR_PLUGIN_DEFER; /* Mosquitto stops initialising on anything else */
}

static void free_options(void)
{
	free(service_user);
	free(reserved_prefix);
	service_user = NULL;
	reserved_prefix = NULL;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	int i;
	const char *user = DEFAULT_SERVICE_USER;
	const char *prefix = DEFAULT_RESERVED_PREFIX;
	int rc;

	(void)userdata;
	for(i = 0; i < option_count; i++){
		if(strcmp(options[i].key, "service_user") == 0){
			user = options[i].value;
		}else if(strcmp(options[i].key, "reserved_prefix") == 0){
			prefix = options[i].value;
		}else if(strcmp(options[i].key, "device_acl") == 0){
			device_acl = options[i].value != NULL && strcmp(options[i].value, "true") == 0;
		}else if(strcmp(options[i].key, "device_control") == 0){
			device_control = options[i].value != NULL && strcmp(options[i].value, "true") == 0;
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "ota_clientid: unknown option plugin_opt_%s.", options[i].key);
			return MOSQ_ERR_INVAL;
		}
	}
	if(user == NULL || user[0] == '\0' || strchr(user, '&') != NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "ota_clientid: invalid plugin_opt_service_user.");
		return MOSQ_ERR_INVAL;
	}
	service_user = strdup(user);
	reserved_prefix = strdup(prefix ? prefix : "");
	if(service_user == NULL || reserved_prefix == NULL){
		free_options();
		return MOSQ_ERR_NOMEM;
	}
	plugin_id = identifier;
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL);
	if(rc != MOSQ_ERR_SUCCESS){
		free_options();
		return rc;
	}
	/* Ownership needs the DISCONNECT event to release ids; without it ids stay first-come. */
	track_owners = 0;
	if(mosquitto_callback_register(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL) == MOSQ_ERR_SUCCESS){
		if(mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL) == MOSQ_ERR_SUCCESS){
			track_owners = 1;
		}else{
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		}
	}
	if(device_acl && !track_owners &&
			mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL) != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "ota_clientid: cannot check devices' ACL (plugin_opt_device_acl).");
		mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		free_options();
		return MOSQ_ERR_INVAL;
	}
	if(device_control){
		if(mosquitto_callback_register(plugin_id, MOSQ_EVT_CONTROL, on_control, CONTROL_TOPIC, NULL) != MOSQ_ERR_SUCCESS){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "ota_clientid: cannot receive %s; device changes need a reload.", CONTROL_TOPIC);
			device_control = 0;
		}else if(mosquitto_callback_register(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL, NULL) != MOSQ_ERR_SUCCESS){
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_CONTROL, on_control, CONTROL_TOPIC);
			device_control = 0;
		}
	}
	if(!track_owners){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"ota_clientid: this broker has no disconnect event for plugins; a live connection's client id is not protected.");
	}
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"ota_clientid: client ids with '&' are bound to their credential; ids starting with '%s' to user '%s'%s%s%s.",
			reserved_prefix, service_user, track_owners ? "; a live connection owns its client id" : "",
			device_acl ? "; devices reach only their own $ota topics" : "",
			device_control ? "; device credentials change over " CONTROL_TOPIC : "");
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if(plugin_id != NULL){
		mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		if(track_owners || device_acl){
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		}
		if(track_owners){
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		}
		if(device_control){
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_CONTROL, on_control, CONTROL_TOPIC);
			mosquitto_callback_unregister(plugin_id, MOSQ_EVT_RELOAD, on_reload, NULL);
		}
	}
	track_owners = 0;
	device_acl = 0;
	device_control = 0;
	table_clear(&creds);
	table_clear(&owners);
	table_clear(&live);
	free_options();
	return MOSQ_ERR_SUCCESS;
}
