/**
 * QuecPython ntptime's server names, apart from ntp.ts so that the VM thread (modules.ts) does not load
 * node:dgram and node:net with it: a fresh worker pays for every Node module it loads.
 */

/** The servers QuecPython's ntptime falls back to, in order, after its own host (ports/quectel/py/ntptime.py). */
export const FIRMWARE_NTP_FALLBACKS = ['pool.ntp.org', 'asia.pool.ntp.org', 'cn.ntp.org.cn', 'cn.pool.ntp.org'] as const;

/** ntptime's default host. */
export const FIRMWARE_NTP_HOST = 'ntp.aliyun.com';
