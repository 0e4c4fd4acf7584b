/* ISA corpus (v4 only): a branch over ~24000 instructions, which clang turns into gotol (JA32). */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

volatile int x;

#define B1 x++;
#define B10 B1 B1 B1 B1 B1 B1 B1 B1 B1 B1
#define B100 B10 B10 B10 B10 B10 B10 B10 B10 B10 B10
#define B1000 B100 B100 B100 B100 B100 B100 B100 B100 B100 B100

SEC("socket")
int far_jump(void *ctx)
{
    if (x == 5) {
        B1000 B1000 B1000 B1000 B1000 B1000 B1000 B1000
    }
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
