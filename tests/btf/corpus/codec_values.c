/* BTF test corpus: initialized globals whose bytes clang lays out, decoded by pybpf codecs. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

enum color { RED, GREEN = 5, BLUE = -3 };

struct flags {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long wide : 40;
	unsigned char tail;
};

struct packed_pair {
	char c;
	int i;
} __attribute__((packed));

union either {
	__u32 word;
	__u8 bytes[4];
	struct { __u16 lo, hi; } halves;
};

struct value {
	__u32 pid;
	__s64 delta;
	char comm[8];
	struct flags f;
	enum color color;
	_Bool seen;
	struct packed_pair pp;
	__u16 ports[2];
	union either u;
	struct { int x, y; };
	float ratio;
	char initial;
	struct packed_pair pairs[2];
	void *ptr;
};

struct value val = {
	.pid = 1234,
	.delta = -5,
	.comm = "bash",
	.f = { .a = 5, .b = 17, .c = -9, .wide = 0x123456789aULL, .tail = 7 },
	.color = BLUE,
	.seen = 1,
	.pp = { .c = 'x', .i = -2 },
	.ports = { 80, 443 },
	.u = { .word = 0x11223344 },
	.x = 10, .y = -20,
	.ratio = 1.5f,
	.initial = 'Q',
	.pairs = { { 'a', 1 }, { 'b', 2 } },
	.ptr = 0,
};

__u64 counter = 99;
enum color favourite = GREEN;

SEC("xdp")
int keep(void *ctx)
{
	return val.pid + counter + favourite;
}

char LICENSE[] SEC("license") = "GPL";
