//! The pooling allocator's size, and how many of its slots one component
//! takes.
//!
//! The pool has [`POOL_INSTANCES`] component slots, and room for
//! [`CORE_INSTANCES_PER_SLOT`] core instances, [`MEMORIES_PER_SLOT`] linear
//! memories and [`TABLES_PER_SLOT`] tables per slot on average. An attempt
//! holds one slot permit per average share of its component's largest need.
//! So the attempts that run at once never need more than the pool has, and
//! an attempt that would waits for permits instead of failing to instantiate.

use wasmparser::{Parser, Payload};
use wasmtime::PoolingAllocationConfig;
use wasmtime::component::Component;

/// Task instances that may exist at once with the pooling allocator; more
/// attempts than this wait for a free slot.
pub(super) const POOL_INSTANCES: u32 = 256;

const CORE_INSTANCES_PER_SLOT: u32 = 16;
const MEMORIES_PER_SLOT: u32 = 2;
const TABLES_PER_SLOT: u32 = 16;

/// The maximum core instances, memories and tables of one component.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
const MAX_MEMORIES_PER_COMPONENT: u32 = 16;
const MAX_TABLES_PER_COMPONENT: u32 = 64;

/// Slots of the pooling allocator: instances, memories, tables and fiber
/// stacks are reused from these instead of mapped and unmapped for every
/// task, which costs system calls and TLB flushes on every core.
pub(super) fn pooling_config() -> PoolingAllocationConfig {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * CORE_INSTANCES_PER_SLOT)
        .total_memories(POOL_INSTANCES * MEMORIES_PER_SLOT)
        .total_tables(POOL_INSTANCES * TABLES_PER_SLOT)
        .total_stacks(POOL_INSTANCES)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .table_elements(100_000)
        .max_core_instance_size(8 << 20)
        .max_component_instance_size(8 << 20)
        // Returning a slot's pages to the kernel is an madvise, whose TLB
        // flush interrupts every core, so freed slots are returned in
        // batches. Their pages stay resident until the batch is full: with
        // 32, a fan-out of 300 Python elements peaked 48 to 63 MB higher.
        // On a chain of 1,000 tasks (whole process, median of 6 runs on 2
        // cores), 8 took 74 ms, as fast as 32 (79 ms), and 1 took 84 ms.
        .decommit_batch_size(8);
    pooling
}

/// The core instances, memories and tables that one instance of a component
/// takes from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PoolNeeds {
    pub(super) core_instances: u32,
    pub(super) memories: u32,
    pub(super) tables: u32,
}

impl PoolNeeds {
    /// Counts the needs of `component`, whose binary is `bytes`. Core
    /// instances are counted from the binary, because wasmtime does not
    /// report them: every core `instantiate` in the component and in the
    /// components it nests, which assumes that each nested component is
    /// instantiated once.
    pub(super) fn of(component: &Component, bytes: &[u8]) -> PoolNeeds {
        let resources = component.resources_required();
        PoolNeeds {
            core_instances: count_core_instantiations(bytes),
            // A component that instantiates an imported module has no static
            // count; the per-slot average is assumed for it.
            memories: resources.as_ref().map_or(MEMORIES_PER_SLOT, |resources| resources.num_memories),
            tables: resources.as_ref().map_or(TABLES_PER_SLOT, |resources| resources.num_tables),
        }
    }

    /// Checks the needs against the pool's limits for one component. The
    /// error names the need, its count and the limit.
    pub(super) fn check(&self) -> Result<(), String> {
        let limits = [
            ("core instances", self.core_instances, MAX_CORE_INSTANCES_PER_COMPONENT),
            ("linear memories", self.memories, MAX_MEMORIES_PER_COMPONENT),
            ("tables", self.tables, MAX_TABLES_PER_COMPONENT),
        ];
        for (what, count, limit) in limits {
            if count > limit {
                return Err(format!(
                    "the component has {count} {what}, more than the {limit} that the host allows one \
                     component; split the task into smaller components"
                ));
            }
        }
        Ok(())
    }

    /// Returns the number of slot permits one attempt holds: one slot, or
    /// more when the component needs more than a slot's average share of
    /// core instances, memories or tables.
    pub(super) fn permits(&self) -> u32 {
        let shares = [
            self.core_instances.div_ceil(CORE_INSTANCES_PER_SLOT),
            self.memories.div_ceil(MEMORIES_PER_SLOT),
            self.tables.div_ceil(TABLES_PER_SLOT),
        ];
        shares.into_iter().max().unwrap_or(1).clamp(1, POOL_INSTANCES)
    }
}

/// Counts the core `instantiate` entries in a component binary and in the
/// components nested in it. Returns 0 for bytes that do not parse, which
/// compilation rejects anyway.
fn count_core_instantiations(bytes: &[u8]) -> u32 {
    let mut count: u32 = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        let Ok(Payload::InstanceSection(reader)) = payload else {
            continue;
        };
        for instance in reader.into_iter().flatten() {
            if matches!(instance, wasmparser::Instance::Instantiate { .. }) {
                count = count.saturating_add(1);
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(core_instances: u32, memories: u32, tables: u32) -> PoolNeeds {
        PoolNeeds { core_instances, memories, tables }
    }

    #[test]
    fn permits_follow_the_largest_share() {
        assert_eq!(needs(0, 0, 0).permits(), 1);
        assert_eq!(needs(16, 2, 16).permits(), 1);
        assert_eq!(needs(17, 1, 1).permits(), 2);
        assert_eq!(needs(3, 5, 1).permits(), 3);
        assert_eq!(needs(3, 1, 40).permits(), 3);
    }

    #[test]
    fn check_names_the_exceeded_limit() {
        assert_eq!(needs(64, 16, 64).check(), Ok(()));

        let error = needs(3, 17, 1).check().unwrap_err();

        assert!(error.starts_with("the component has 17 linear memories, more than the 16"), "{error}");
    }

    #[test]
    fn core_instantiations_counted_in_a_component() {
        // (component (core module $m) (core instance (instantiate $m))
        // (core instance (instantiate $m))), encoded by hand.
        let bytes = wat_component();
        let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
        validator.validate_all(&bytes).expect("the hand-encoded component is valid");

        assert_eq!(count_core_instantiations(&bytes), 2);
    }

    fn wat_component() -> Vec<u8> {
        // Magic, component version 0x0d and layer 1.
        let mut bytes = vec![0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
        // Core module section (id 1) with an empty module.
        let module = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
        bytes.push(0x01);
        bytes.push(module.len() as u8);
        bytes.extend_from_slice(&module);
        // Core instance section (id 2): 2 entries, each `instantiate` (0x00)
        // of module 0 with no arguments.
        let instances = [0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
        bytes.push(0x02);
        bytes.push(instances.len() as u8);
        bytes.extend_from_slice(&instances);
        bytes
    }
}
