/** The dataplane's public face, for the agent: the controller, the real kernel, and their types. */
export { RouteController, RouteConfigError } from './route-controller.ts';
export type { RouteControllerOptions, RouteTarget, NodeSubnet, Conflict, Failure, DataplaneCounters } from './route-controller.ts';
export { NetlinkKernel } from './kernel-netlink.ts';
export type { NetlinkKernelOptions } from './kernel-netlink.ts';
export { KernelError } from './kernel.ts';
export type { Kernel, KernelEvent, KernelLink, KernelRoute, NextHop, OpResult, RouteOps } from './kernel.ts';
export { DEFAULT_PROTOCOL, DEFAULT_TABLE, DEFAULT_WORKLOAD_PREFIX, isOurRoute, isWorkloadInterface } from './ownership.ts';
export { systemClock, type Clock } from './clock.ts';
export { ensureHelper, buildHelper, HelperBuildError } from './helper-binary.ts';
