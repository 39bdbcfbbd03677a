//! How a global batch is split over the ranks, without MPI: every row of every shard is
//! used once an epoch, and a step takes the global batch while the shards last.

use wengert_dist::{first_difference, local_rows, shard_indices, steps_per_epoch};

#[test]
fn every_shard_row_is_used_once_an_epoch_and_a_full_step_takes_the_global_batch() {
    for rows in [1, 7, 64, 100, 4000, 4001] {
        for ranks in 1..=5 {
            for batch in [ranks, ranks + 1, 32, 64, 97] {
                let shards: Vec<usize> = (0..ranks).map(|rank| shard_indices(rows, rank, ranks).len()).collect();
                assert_eq!(shards.iter().sum::<usize>(), rows);
                let steps = steps_per_epoch(batch, &shards);
                for (rank, &len) in shards.iter().enumerate() {
                    let used: usize = (0..steps).map(|step| local_rows(batch, ranks, rank, len, step)).sum();
                    assert_eq!(used, len, "rows {rows}, ranks {ranks}, batch {batch}, rank {rank}");
                }
                for step in 0..steps {
                    let step_rows: usize =
                        (0..ranks).map(|rank| local_rows(batch, ranks, rank, shards[rank], step)).sum();
                    assert!(step_rows > 0 && step_rows <= batch, "step {step} takes {step_rows} of {batch}");
                    // While every shard still holds a whole local batch, the step is the global batch.
                    let full = shards.iter().enumerate().all(|(rank, &len)| {
                        len >= (step + 1) * wengert_nn::parallel::shard_rows(batch, ranks, rank).len()
                    });
                    if full {
                        assert_eq!(step_rows, batch, "rows {rows}, ranks {ranks}, batch {batch}, step {step}");
                    }
                }
            }
        }
    }
}

#[test]
fn shards_partition_the_rows() {
    let (rows, ranks) = (23, 4);
    let mut all: Vec<usize> = (0..ranks).flat_map(|rank| shard_indices(rows, rank, ranks)).collect();
    all.sort_unstable();
    assert_eq!(all, (0..rows).collect::<Vec<_>>());
}

#[test]
fn a_field_only_another_rank_has_is_a_difference() {
    let texts = ["a=1\n".to_string(), "a=1\n".to_string(), "a=1\nb=2\n".to_string()];
    let difference = first_difference(&texts).expect("rank 2 has b");
    assert_eq!((difference.key.as_str(), difference.rank), ("b", 2));
    assert_eq!((difference.root.as_str(), difference.other.as_str()), ("(absent)", "2"));
}
