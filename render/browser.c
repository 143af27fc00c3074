/*
 * Starting and watching Chromium (see browser.h). The policy JSON carries
 * administrator-supplied strings (start URL, bookmarks), escaped here.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "browser.h"
#include "log.h"
#include "util.h"

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void write_bookmarks(FILE *out, const struct shoji_strlist *b)
{
	fputs("  \"ManagedBookmarks\": [{\"toplevel_name\": \"shoji\"}", out);
	for (size_t i = 0; i < b->n; i++) {
		const char *eq = strchr(b->items[i], '=');
		if (!eq)
			continue;
		char *name = strndup(b->items[i], (size_t)(eq - b->items[i]));
		fputs(", {\"name\": ", out);
		json_string(out, name);
		fputs(", \"url\": ", out);
		json_string(out, eq + 1);
		fputs("}", out);
		free(name);
	}
	fputs("],\n", out);
}

int browser_write_policy(FILE *out, const struct shoji_config *cfg)
{
	char proxy[64];

	snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", BROWSER_PROXY_PORT);
	fputs("{\n", out);
	fputs("  \"ProxySettings\": {\"ProxyMode\": \"fixed_servers\", \"ProxyServer\": ", out);
	json_string(out, proxy);
	fputs(", \"ProxyBypassList\": \"<-loopback>\"},\n", out);
	fputs("  \"HomepageLocation\": ", out);
	json_string(out, cfg->browser_start_url);
	fputs(",\n  \"RestoreOnStartupURLs\": [", out);
	json_string(out, cfg->browser_start_url);
	fputs("],\n", out);
	write_bookmarks(out, &cfg->browser_bookmarks);
	fputs("  \"BookmarkBarEnabled\": true,\n"
	      "  \"RestoreOnStartup\": 4,\n"
	      "  \"HomepageIsNewTabPage\": false,\n"
	      "  \"ShowHomeButton\": true,\n"
	      "  \"DownloadRestrictions\": 3,\n"
	      "  \"AllowFileSelectionDialogs\": false,\n"
	      "  \"URLBlocklist\": [\"file://*\", \"view-source:*\", \"chrome://inspect\","
	      " \"devtools://*\", \"chrome://net-export\"],\n"
	      "  \"DeveloperToolsAvailability\": 2,\n"
	      "  \"ExtensionInstallBlocklist\": [\"*\"],\n"
	      "  \"PrintingEnabled\": false,\n"
	      "  \"QuicAllowed\": false,\n"
	      "  \"DnsOverHttpsMode\": \"off\",\n"
	      "  \"BrowserSignin\": 0,\n"
	      "  \"SyncDisabled\": true,\n"
	      "  \"PasswordManagerEnabled\": false,\n"
	      "  \"BrowserAddPersonEnabled\": false,\n"
	      "  \"BrowserGuestModeEnabled\": false,\n"
	      "  \"BackgroundModeEnabled\": false,\n"
	      "  \"DefaultBrowserSettingEnabled\": false,\n"
	      "  \"MetricsReportingEnabled\": false,\n"
	      "  \"TranslateEnabled\": false,\n"
	      "  \"AudioCaptureAllowed\": false,\n"
	      "  \"VideoCaptureAllowed\": false,\n"
	      "  \"ScreenCaptureAllowed\": false,\n"
	      "  \"DefaultGeolocationSetting\": 2,\n"
	      "  \"DefaultNotificationsSetting\": 2,\n"
	      "  \"CommandLineFlagSecurityWarningsEnabled\": false,\n"
	      /*
	       * Background fetches the egress proxy would refuse and audit in
	       * every session: network time (clients2.google.com), components
	       * (update.googleapis.com) and on-device AI models.
	       */
	      "  \"BrowserNetworkTimeQueriesEnabled\": false,\n"
	      "  \"ComponentUpdatesEnabled\": false,\n"
	      "  \"GenAILocalFoundationalModelSettings\": 1\n"
	      "}\n",
	      out);
	return ferror(out) ? -1 : 0;
}

pid_t browser_start(const struct browser_opts *o)
{
	char size[32], lang[48], profile[300], proxy[64];

	snprintf(size, sizeof(size), "--window-size=%u,%u", o->width, o->height);
	snprintf(lang, sizeof(lang), "--lang=%s", o->locale);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s", o->profile_dir);
	snprintf(proxy, sizeof(proxy), "--proxy-server=http://127.0.0.1:%d", BROWSER_PROXY_PORT);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	setpgid(0, 0);
	/* Chromium on Linux takes its UI language from the environment, not --lang. */
	setenv("LANGUAGE", o->locale, 1);
	int fd = open(o->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	execl(o->command, o->command, "--disable-background-networking",
	      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
	      "--no-default-browser-check", "--password-store=basic", "--noerrdialogs",
	      "--hide-crash-restore-bubble",
	      "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
	      "OptimizationGuideModelDownloading,InterestFeedContentSuggestions",
	      /*
	       * Chromium 156 asks update.googleapis.com for the on-device model
	       * manifest despite --disable-component-update and the policies;
	       * an override that names no manifest keeps it from asking.
	       */
	      "--optimization-guide-manifest-override=/dev/null",
	      "--window-position=0,0", size, lang, profile, proxy,
	      "--proxy-bypass-list=<-loopback>", o->start_url, (char *)NULL);
	_exit(127);
}

void browser_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto reaped;
		usleep(20000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
reaped:
	kill(-pid, SIGKILL); /* stragglers of the group */
}

static bool read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return false;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return true;
}

/* Is process pid a renderer with a seccomp filter in its own user namespace? */
static int renderer_sandboxed(const char *pid, const struct stat *own_userns)
{
	char path[64], buf[4096];
	struct stat ns;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	if (!read_file(path, buf, sizeof(buf)) || !strstr(buf, "--type=renderer"))
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (!read_file(path, buf, sizeof(buf)))
		return -1;
	const char *sc = strstr(buf, "\nSeccomp:");
	bool seccomp = sc && atoi(sc + 9) == 2;
	snprintf(path, sizeof(path), "/proc/%s/ns/user", pid);
	bool own_ns = stat(path, &ns) == 0 && ns.st_ino != own_userns->st_ino;
	if (!seccomp || !own_ns)
		log_warn("browser sandbox is OFF for renderer %s (seccomp filter %s, own user "
			 "namespace %s)",
			 pid, seccomp ? "on" : "off", own_ns ? "yes" : "no");
	return seccomp && own_ns;
}

bool browser_check_sandbox(void)
{
	struct stat own;
	int found = 0, sandboxed = 0;

	if (stat("/proc/self/ns/user", &own) < 0)
		return false;
	DIR *d = opendir("/proc");
	if (!d)
		return false;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		int r = renderer_sandboxed(de->d_name, &own);
		if (r < 0)
			continue;
		found++;
		sandboxed += r;
	}
	closedir(d);
	if (found && found == sandboxed)
		log_info("browser sandbox on: %d renderer(s), each with a seccomp filter and "
			 "its own user namespace",
			 found);
	else if (!found)
		log_warn("browser sandbox: no renderer process found to check");
	return found && found == sandboxed;
}
