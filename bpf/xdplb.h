/* xdplb.h: map layouts shared by the XDP load balancer (xdplb.bpf.c) and its Python control plane.
 *
 * Plain data only: never put logic here. src/pybpf/apps/lb/layout.py mirrors every struct byte for
 * byte; change both together.
 */
#ifndef PYBPF_XDPLB_H
#define PYBPF_XDPLB_H

#include <linux/types.h>

#ifndef LB_RING_SIZE
#define LB_RING_SIZE 65537          /* Maglev lookup-table size per VIP: a prime */
#endif
#ifndef LB_MAX_VIPS
#define LB_MAX_VIPS 32
#endif
#ifndef LB_MAX_BACKENDS
#define LB_MAX_BACKENDS 4096
#endif
#ifndef LB_CT_ENTRIES
#define LB_CT_ENTRIES 65536
#endif

#define LB_FAMILY_V4 4
#define LB_FAMILY_V6 6

#define LB_BACKEND_ALIVE 1u         /* struct lb_backend.flags */
#define LB_DEFAULT_TTL 64

/* An address: IPv4 in addr[0] (network order, rest zero), or the 16 IPv6 bytes. */
union lb_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* vip_map key: destination address, destination port (network order; 0 = any port), protocol. */
struct lb_vip_key {
	union lb_addr addr;
	__be16 port;
	__u8 proto;
	__u8 family;
};

struct lb_vip_meta {
	__u32 vip_index;            /* row of the Maglev table and of vip_stats */
	__u32 flags;
};

/* backends[index] */
struct lb_backend {
	union lb_addr addr;
	__u8 family;
	__u8 pad[3];
	__u32 flags;                /* LB_BACKEND_ALIVE */
};

/* conntrack key: the client's 5-tuple as seen by the balancer. */
struct lb_flow_key {
	union lb_addr src;
	union lb_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

struct lb_flow_value {
	__u32 backend_index;
	__u32 vip_index;
};

/* vip_backends key (control-plane bookkeeping; the data plane never reads it). */
struct lb_membership_key {
	__u32 vip_index;
	__u32 backend_index;
};

struct lb_membership_value {
	__u32 weight;
	__u32 pad;
};

/* config[0] */
struct lb_config {
	__u8 nexthop_mac[6];        /* destination MAC of every encapsulated packet */
	__u8 pad[2];
	__be32 src_v4;              /* outer source address for IPIP */
	__u8 src_v6[16];            /* outer source address for IP6IP6 / IPv4-in-IPv6 */
};

struct lb_traffic {
	__u64 packets;
	__u64 bytes;
};

/* Indices of the per-CPU `counters` array. */
enum lb_counter {
	LB_CNT_RX = 0,              /* every packet seen */
	LB_CNT_TX,                  /* encapsulated and sent back out (XDP_TX) */
	LB_CNT_PASS_NON_IP,         /* not IPv4/IPv6 */
	LB_CNT_PASS_NON_VIP,        /* no VIP matches */
	LB_CNT_PASS_NON_L4,         /* not TCP/UDP (ICMP incl. frag-needed / packet-too-big) */
	LB_CNT_PASS_FRAGMENT,       /* IPv4 fragment or IPv6 fragment header */
	LB_CNT_PASS_IPV6_EXT,       /* IPv6 extension header other than fragment */
	LB_CNT_NEW_CONN,            /* new flow: TCP SYN or first packet of a UDP flow */
	LB_CNT_CT_MISS,             /* TCP non-SYN packet missing from conntrack */
	LB_CNT_CT_HIT,
	LB_CNT_CT_STALE,            /* conntrack entry pointed at a removed backend */
	LB_CNT_DROP_TRUNCATED,      /* a header runs past the end of the packet */
	LB_CNT_DROP_BAD_HEADER,     /* impossible header fields (version, ihl, lengths) */
	LB_CNT_DROP_NO_BACKEND,     /* VIP has no live backend */
	LB_CNT_DROP_NO_CONFIG,
	LB_CNT_DROP_ENCAP,          /* bpf_xdp_adjust_head failed */
	LB_CNT_ICMP_TO_BACKEND,     /* ICMP frag-needed / ICMPv6 packet-too-big sent to the flow's backend */
	LB_CNT_MAX,
};

#endif
