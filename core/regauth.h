/* regauth: the credentials `docker login` keeps for a registry, read from
 * the docker CLI's config ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json) the way the CLI reads them:
 *
 *   credHelpers[HOST]  a credential helper for this registry,
 *   credsStore         else the helper for every registry,
 *   auths[HOST]        else the credentials written in the file ("auth":
 *                      base64 of USER:PASSWORD, or "username"/"password",
 *                      or "identitytoken"); a key may carry a scheme and a
 *                      path ("https://HOST/v1/").
 *
 * A helper NAME is the program docker-credential-NAME, run with the argv
 * {"docker-credential-NAME", "get"} and the registry's host on stdin; it
 * prints {"ServerURL":…,"Username":…,"Secret":…}, Username "<token>" meaning
 * Secret is an identity token, or "credentials not found" and status 1. */
#ifndef DBX_REGAUTH_H
#define DBX_REGAUTH_H

/* The X-Registry-Auth header value for the registry at host ("HOST[:PORT]";
 * docker.io, index.docker.io and registry-1.docker.io are Docker Hub, whose
 * login docker keeps under "https://index.docker.io/v1/"):
 * base64url of the engine's AuthConfig JSON ({"username","password",
 * "serveraddress"} or {"identitytoken","serveraddress"}), or of "{}" when the
 * config names nothing for host. *from receives where the credentials came
 * from ("auths in /root/.docker/config.json", "docker-credential-pass"), or
 * NULL when none did; caller frees both. 0, or -1 with *err set (caller frees)
 * when the config is unreadable or not JSON, or its helper is missing or
 * fails. */
int regauth_header(const char *host, char **value, char **from, char **err);

#endif
