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
 *   - Everything else returns MOSQ_ERR_PLUGIN_DEFER: the password file (and, for every
 *     message, the ACL file) still decide, exactly as without the plugin.
 *
 * Configuration:
 *   plugin /path/to/ota_clientid.so
 *   plugin_opt_service_user ota-backend
 *
 * Build (headers from Debian's mosquitto-dev):
 *   gcc -shared -fPIC -O2 -o ota_clientid.so ota_clientid.c
 */
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
#  define MOSQ_ERR_PLUGIN_DEFER 17
#  define MOSQ_LOG_INFO (1 << 0)
#  define MOSQ_LOG_NOTICE (1 << 1)
#  define MOSQ_LOG_ERR (1 << 3)
#endif

#define DEFAULT_SERVICE_USER "ota-backend"
#define DEFAULT_RESERVED_PREFIX "ota-backend"

static mosquitto_plugin_id_t *plugin_id = NULL;
static char *service_user = NULL;
static char *reserved_prefix = NULL;

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
	return MOSQ_ERR_PLUGIN_DEFER;
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
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"ota_clientid: client ids with '&' are bound to their credential; ids starting with '%s' to user '%s'.",
			reserved_prefix, service_user);
	return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	if(plugin_id != NULL){
		mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
	}
	free_options();
	return MOSQ_ERR_SUCCESS;
}
