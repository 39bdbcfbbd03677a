//! [`Dist`]: this process's place in the MPI job, and the collectives training needs.

use crate::DistError;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Equivalence, Root};
use mpi::Threading;
use wengert_nn::Model;

/// The MPI job as this process sees it: its rank and the number of ranks, with the
/// collectives of data-parallel training. MPI is finalised when it is dropped.
///
/// Only the thread that called [`Dist::init`] calls MPI (the local worker threads never do),
/// so the `funneled` threading level suffices.
///
/// # Examples
///
/// Run under `mpirun -np 2`: both ranks start from rank 0's parameters.
///
/// ```no_run
/// use rand::SeedableRng;
/// use wengert_dist::{parameter_hash, Dist};
/// use wengert_nn::{Activation, Mlp};
/// let dist = Dist::init()?;
/// // Each rank draws other weights...
/// let seed = dist.rank() as u64;
/// let mut model = Mlp::<f32>::new(&[4, 8, 2], Activation::Relu, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
/// // ...and takes rank 0's.
/// dist.broadcast_parameters(&mut model);
/// println!("rank {} of {}: {:016x}", dist.rank(), dist.size(), parameter_hash(&model));
/// # Ok::<(), wengert_dist::DistError>(())
/// ```
pub struct Dist {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    // Dropped last: finalises MPI.
    _universe: Universe,
}

impl Dist {
    /// Initialises MPI (at the `funneled` threading level) and joins the job. A program
    /// started without `mpirun` is a job of one rank.
    ///
    /// # Errors
    ///
    /// [`DistError::AlreadyInitialised`] if MPI was initialised before in this process.
    pub fn init() -> Result<Dist, DistError> {
        let (universe, _threading) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(DistError::AlreadyInitialised)?;
        let world = universe.world();
        let (rank, size) = (to_usize(world.rank()), to_usize(world.size()));
        Ok(Dist { world, rank, size, _universe: universe })
    }

    /// This process's rank, from 0.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// How many ranks the job has.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether this is rank 0: the one that writes checkpoints and prints.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// The job's communicator, for collectives this type does not wrap.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// Overwrites every parameter with rank 0's (a broadcast per parameter tensor). All
    /// ranks must call it with models of the same layout; check that first
    /// ([`crate::check_same_config`]), since MPI cannot tell a short buffer from a long one.
    pub fn broadcast_parameters<M: Model<f32> + ?Sized>(&self, model: &mut M) {
        let root = self.world.process_at_rank(0);
        for parameter in model.parameters_mut() {
            root.broadcast_into(parameter.data_mut());
        }
    }

    /// Sums `values` over the ranks, in place: afterwards every rank holds the same sums.
    /// `scratch` receives the sums before they are copied back; it is grown at the first
    /// call and reused after, so a step allocates nothing.
    ///
    /// Every rank must pass the same number of values.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let dist = wengert_dist::Dist::init()?;
    /// let mut values = [dist.rank() as f32 + 1.0; 3];
    /// dist.all_sum_in_place(&mut values, &mut Vec::new());
    /// let ranks = dist.size() as f32;
    /// assert_eq!(values, [ranks * (ranks + 1.0) / 2.0; 3]);
    /// # Ok::<(), wengert_dist::DistError>(())
    /// ```
    pub fn all_sum_in_place<T: Equivalence + Copy + Default>(&self, values: &mut [T], scratch: &mut Vec<T>) {
        scratch.resize(values.len(), T::default());
        self.world.all_reduce_into(&*values, &mut scratch[..], mpi::collective::SystemOperation::sum());
        values.copy_from_slice(scratch);
    }

    /// Every rank's `value`, in rank order.
    pub fn all_gather<T: Equivalence + Copy + Default>(&self, value: T) -> Vec<T> {
        let mut all = vec![T::default(); self.size];
        self.world.all_gather_into(&value, &mut all[..]);
        all
    }

    /// Every rank's `text`, in rank order (an allgather of the lengths, then of the bytes).
    pub fn all_gather_text(&self, text: &str) -> Vec<String> {
        let lengths: Vec<i32> = self.all_gather(mpi_count(text.len()));
        let offsets: Vec<i32> = lengths.iter().scan(0, |end, &len| Some(std::mem::replace(end, *end + len))).collect();
        let mut bytes = vec![0_u8; lengths.iter().map(|&len| to_usize(len)).sum()];
        {
            let mut partition = PartitionMut::new(&mut bytes[..], &lengths[..], &offsets[..]);
            self.world.all_gather_varcount_into(text.as_bytes(), &mut partition);
        }
        lengths
            .iter()
            .zip(&offsets)
            .map(|(&len, &start)| {
                let range = to_usize(start)..to_usize(start + len);
                String::from_utf8_lossy(&bytes[range]).into_owned()
            })
            .collect()
    }

    /// Rank 0's bytes on every rank: rank 0 passes `Some(Ok(bytes))` or `Some(Err(()))` if it
    /// has none to give, the others `None`. Every rank gets `Ok(bytes)`, or `Err(())` if rank 0
    /// had none.
    pub(crate) fn broadcast_bytes(&self, root_bytes: Option<Result<Vec<u8>, ()>>) -> Result<Vec<u8>, ()> {
        let root = self.world.process_at_rank(0);
        let mut length: i64 = match &root_bytes {
            Some(Ok(bytes)) => i64::try_from(bytes.len()).expect("a buffer's length fits in i64"),
            Some(Err(())) => -1,
            None => 0,
        };
        root.broadcast_into(&mut length);
        let Ok(length) = usize::try_from(length) else { return Err(()) };
        let mut bytes = match root_bytes {
            Some(Ok(bytes)) => bytes,
            _ => vec![0; length],
        };
        // MPI counts in i32: send the bytes in chunks that fit.
        for chunk in bytes.chunks_mut(1 << 30) {
            root.broadcast_into(chunk);
        }
        Ok(bytes)
    }

    /// Whether rank 0 succeeded at something only it did: rank 0 passes `Some(ok)`, the
    /// others `None`; every rank gets rank 0's answer.
    pub(crate) fn root_succeeded(&self, root_ok: Option<bool>) -> bool {
        let mut flag = u8::from(root_ok.unwrap_or(false));
        self.world.process_at_rank(0).broadcast_into(&mut flag);
        flag == 1
    }

    /// Reports `error` and says how the process should exit, so that no rank is left waiting:
    /// a [`DistError`] that every rank shares ([`DistError::is_shared`]) is printed by rank
    /// 0 alone (rank 0 names the cause of a [`DistError::RootFailed`]) and every rank
    /// returns a failing exit code, which makes `mpirun` end the job with a failure; any
    /// other error is printed by its rank, which then ends the job ([`Dist::abort`]) when
    /// there are other ranks.
    ///
    /// ```no_run
    /// let dist = wengert_dist::Dist::init()?;
    /// let error = std::io::Error::other("cannot read the data");
    /// let code = dist.end_with_error(&error); // with other ranks, this ends the job
    /// # Ok::<(), wengert_dist::DistError>(())
    /// ```
    pub fn end_with_error(&self, error: &(dyn std::error::Error + 'static)) -> std::process::ExitCode {
        let shared = error.downcast_ref::<DistError>().is_some_and(DistError::is_shared);
        if !shared || self.is_root() {
            eprintln!("error: rank {}: {error}", self.rank);
        }
        if !shared && self.size > 1 {
            self.abort(1);
        }
        std::process::ExitCode::FAILURE
    }

    /// Ends the whole job at once (`MPI_Abort`): for an error on one rank that the others
    /// cannot know of, which would otherwise leave them waiting in a collective.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

fn to_usize(value: i32) -> usize {
    usize::try_from(value).expect("MPI counts and ranks are not negative")
}

#[track_caller]
fn mpi_count(len: usize) -> i32 {
    i32::try_from(len).unwrap_or_else(|_| panic!("all_gather_text: {len} bytes is more than MPI counts in one call"))
}
