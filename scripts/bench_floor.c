// `make bench`'s floor for the registry part of a cold tag key: what a plain C client on
// libcurl's multi interface spends, in CPU, making exactly the registry requests ratify makes
// for one cosign-signed image (HEAD the tag; then, at once, GET the tag-schema referrers tag
// `sha256-<hex>` and cosign's `sha256-<hex>.sig`), with no parsing, caching or verification.
// Keep-alive connections live in the multi handle, as in ratify; easy handles are reused.
//
// usage: bench_floor PORT REPOSITORY FIRST COUNT   (tags vFIRST..vFIRST+COUNT-1; 3 more warm up)
// prints: the CPU milliseconds per image.
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

struct response { size_t bytes; char digest[160]; };

static size_t body(char *data, size_t size, size_t count, void *context) {
    ((struct response *)context)->bytes += size * count;
    return size * count;
}

static size_t header(char *data, size_t size, size_t count, void *context) {
    struct response *response = context;
    size_t length = size * count;
    static const char name[] = "Docker-Content-Digest: ";
    size_t prefix = sizeof name - 1;
    if (length > prefix && strncasecmp(data, name, prefix) == 0) {
        size_t value = length - prefix;
        while (value && (data[prefix + value - 1] == '\r' || data[prefix + value - 1] == '\n')) value--;
        if (value >= sizeof response->digest) value = sizeof response->digest - 1;
        memcpy(response->digest, data + prefix, value);
        response->digest[value] = 0;
    }
    return length;
}

static CURL *handles[3];

static void add(CURLM *multi, int slot, const char *url, int head, struct response *response, struct curl_slist *accept) {
    CURL *easy = handles[slot];
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, response);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, response);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, accept);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(multi, easy);
}

static void run(CURLM *multi) {
    int running = 1, left;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    CURLMsg *message;
    while ((message = curl_multi_info_read(multi, &left))) curl_multi_remove_handle(multi, message->easy_handle);
}

static double cpu_ms(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: bench_floor PORT REPOSITORY FIRST COUNT\n");
        return 2;
    }
    int port = atoi(argv[1]), first = atoi(argv[3]), count = atoi(argv[4]);
    const char *repository = argv[2];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    for (int i = 0; i < 3; i++) handles[i] = curl_easy_init();
    struct curl_slist *accept = curl_slist_append(NULL, "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json");
    double start = 0;
    char url[512], tag[200];
    for (int i = first - 3; i < first + count; i++) {
        if (i == first) start = cpu_ms();
        struct response resolved = {0}, referrers = {0}, signatures = {0};
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/%s/manifests/v%d", port, repository, i);
        add(multi, 0, url, 1, &resolved, accept);
        run(multi);
        if (!resolved.digest[0]) {
            fprintf(stderr, "bench_floor: no Docker-Content-Digest for %s\n", url);
            return 1;
        }
        snprintf(tag, sizeof tag, "%s", resolved.digest);
        char *colon = strchr(tag, ':');
        if (colon) *colon = '-';
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/%s/manifests/%s", port, repository, tag);
        add(multi, 1, url, 0, &referrers, accept);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/%s/manifests/%s.sig", port, repository, tag);
        add(multi, 2, url, 0, &signatures, accept);
        run(multi);
    }
    printf("%.4f\n", (cpu_ms() - start) / count);
    return 0;
}
