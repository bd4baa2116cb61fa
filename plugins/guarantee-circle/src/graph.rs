//! The guarantee graph and the bounded searches over it: the applicant's strongly
//! connected component (its circle network), the shortest circle through it, and the
//! enumeration of circles through it up to a length, a count and a work budget.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A directed graph `guarantor → borrower` over parties numbered in id order, with
/// parallel guarantees merged (amounts summed) and self-guarantees left out.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Party ids, sorted; a party's number is its index here.
    pub ids: Vec<String>,
    /// Successors of each party, ascending.
    pub out: Vec<Vec<usize>>,
    /// Predecessors of each party, ascending.
    pub inn: Vec<Vec<usize>>,
    /// `(guarantor, borrower)` → summed amount.
    pub amounts: BTreeMap<(usize, usize), f64>,
    /// Relations whose guarantor is their own borrower: not a circle between parties.
    pub self_guarantees: usize,
}

impl Graph {
    /// Builds the graph from `(guarantor, borrower, amount)` triples.
    pub fn new<'a>(
        relations: impl IntoIterator<Item = (&'a str, &'a str, f64)> + Clone,
        extra_ids: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut set: BTreeSet<&str> = extra_ids.into_iter().collect();
        for (g, b, _) in relations.clone() {
            set.insert(g);
            set.insert(b);
        }
        let ids: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        let index: BTreeMap<&str, usize> = set.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let mut amounts: BTreeMap<(usize, usize), f64> = BTreeMap::new();
        let mut self_guarantees = 0;
        for (g, b, amount) in relations {
            let (u, v) = (index[g], index[b]);
            if u == v {
                self_guarantees += 1;
                continue;
            }
            *amounts.entry((u, v)).or_insert(0.0) += amount;
        }
        let mut out = vec![Vec::new(); ids.len()];
        let mut inn = vec![Vec::new(); ids.len()];
        // BTreeMap order is (u, v) ascending, so every list comes out sorted.
        for &(u, v) in amounts.keys() {
            out[u].push(v);
            inn[v].push(u);
        }
        Self {
            ids,
            out,
            inn,
            amounts,
            self_guarantees,
        }
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.ids.binary_search_by(|x| x.as_str().cmp(id)).ok()
    }

    pub fn amount(&self, u: usize, v: usize) -> f64 {
        self.amounts.get(&(u, v)).copied().unwrap_or(0.0)
    }

    /// Breadth-first distances (in edges) from `s` along `next`; `None` = unreachable.
    fn distances(&self, s: usize, next: &[Vec<usize>]) -> Vec<Option<u32>> {
        let mut dist = vec![None; self.ids.len()];
        dist[s] = Some(0);
        let mut queue = VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            let d = dist[u].unwrap_or(0);
            for &v in &next[u] {
                if dist[v].is_none() {
                    dist[v] = Some(d + 1);
                    queue.push_back(v);
                }
            }
        }
        dist
    }
}

/// Everything known about the circles through one party.
#[derive(Debug, Clone, PartialEq)]
pub struct Circles {
    /// The party's strongly connected component, ascending: every member lies on some
    /// circle through the party (of any length). Just the party when it is in none.
    pub component: Vec<usize>,
    /// Length of the shortest circle through the party, exactly.
    pub shortest: Option<u32>,
    /// Circles as member lists starting at the party, in guarantee direction
    /// (`[a, b, c]`: a guarantees b, b guarantees c, c guarantees a); by length, then
    /// in id order.
    pub cycles: Vec<Vec<usize>>,
    /// More circles within the length bound exist than were listed, or the work budget
    /// ran out before all were found.
    pub truncated: bool,
    /// Edge visits spent by the enumeration.
    pub steps: u64,
}

/// Bounds of one enumeration.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_length: u32,
    pub max_cycles: usize,
    pub max_steps: u64,
}

/// Depth-first search for circles of exactly `len` members through `s`, inside the
/// component, pruned by the distance back to `s`: a branch is entered only if the
/// circle can still close within `len`, so the search never wanders into parts of the
/// graph that cannot lead back in time.
struct Search<'a> {
    g: &'a Graph,
    s: usize,
    in_component: &'a [bool],
    to_s: &'a [Option<u32>],
    bounds: Bounds,
    path: Vec<usize>,
    on_path: Vec<bool>,
    found: Vec<Vec<usize>>,
    steps: u64,
    truncated: bool,
}

impl Search<'_> {
    /// Returns false when a bound stopped the search.
    fn extend(&mut self, u: usize, len: usize) -> bool {
        for &v in &self.g.out[u] {
            if self.steps >= self.bounds.max_steps {
                self.truncated = true;
                return false;
            }
            self.steps += 1;
            if v == self.s {
                if self.path.len() == len {
                    if self.found.len() == self.bounds.max_cycles {
                        self.truncated = true;
                        return false;
                    }
                    self.found.push(self.path.clone());
                }
                continue;
            }
            if !self.in_component[v] || self.on_path[v] {
                continue;
            }
            // Members after adding v, plus the fewest needed to get back to s.
            let Some(back) = self.to_s[v] else { continue };
            if self.path.len() + back as usize > len {
                continue;
            }
            self.path.push(v);
            self.on_path[v] = true;
            let go_on = self.extend(v, len);
            self.on_path[v] = false;
            self.path.pop();
            if !go_on {
                return false;
            }
        }
        true
    }
}

/// Finds the circles through `s` within `bounds`.
pub fn circles_through(g: &Graph, s: usize, bounds: Bounds) -> Circles {
    let from_s = g.distances(s, &g.out);
    let to_s = g.distances(s, &g.inn);
    let in_component: Vec<bool> = (0..g.ids.len())
        .map(|v| from_s[v].is_some() && to_s[v].is_some())
        .collect();
    let component: Vec<usize> = (0..g.ids.len()).filter(|&v| in_component[v]).collect();
    // A closing edge u → s after the shortest path s ⇝ u gives the shortest circle.
    let shortest = g.inn[s]
        .iter()
        .filter_map(|&u| from_s[u])
        .min()
        .map(|d| d + 1);
    let mut search = Search {
        g,
        s,
        in_component: &in_component,
        to_s: &to_s,
        bounds,
        path: vec![s],
        on_path: vec![false; g.ids.len()],
        found: Vec::new(),
        steps: 0,
        truncated: false,
    };
    search.on_path[s] = true;
    if let Some(shortest) = shortest {
        // Shortest circles first, so a truncated list keeps the tightest circles.
        let longest = bounds.max_length.min(component.len() as u32);
        for len in shortest..=longest {
            if !search.extend(s, len as usize) {
                break;
            }
        }
    }
    Circles {
        component,
        shortest,
        cycles: search.found,
        truncated: search.truncated,
        steps: search.steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        Graph::new(
            edges.iter().map(|&(a, b)| (a, b, 1.0)).collect::<Vec<_>>(),
            [],
        )
    }

    fn names(g: &Graph, cycles: &[Vec<usize>]) -> Vec<String> {
        cycles
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&i| g.ids[i].as_str())
                    .collect::<Vec<_>>()
                    .join(">")
            })
            .collect()
    }

    const UNBOUNDED: Bounds = Bounds {
        max_length: 12,
        max_cycles: 1000,
        max_steps: 10_000_000,
    };

    #[test]
    fn mutual_and_triangle_through_the_applicant() {
        let g = graph(&[
            ("A", "B"),
            ("B", "A"),
            ("B", "C"),
            ("C", "A"),
            ("C", "D"),
            ("D", "E"),
        ]);
        let c = circles_through(&g, g.index_of("A").unwrap(), UNBOUNDED);
        assert_eq!(names(&g, &c.cycles), ["A>B", "A>B>C"]);
        assert_eq!(c.shortest, Some(2));
        assert_eq!(
            c.component
                .iter()
                .map(|&i| g.ids[i].as_str())
                .collect::<Vec<_>>(),
            ["A", "B", "C"]
        );
        assert!(!c.truncated);
    }

    #[test]
    fn no_circle_means_a_component_of_one() {
        let g = graph(&[("A", "B"), ("B", "C"), ("C", "B"), ("A", "A")]);
        assert_eq!(g.self_guarantees, 1);
        let c = circles_through(&g, g.index_of("A").unwrap(), UNBOUNDED);
        assert_eq!(c.component, [g.index_of("A").unwrap()]);
        assert_eq!(c.shortest, None);
        assert!(c.cycles.is_empty());
        // B and C are in a circle of their own that A is not part of.
        let c = circles_through(&g, g.index_of("B").unwrap(), UNBOUNDED);
        assert_eq!(names(&g, &c.cycles), ["B>C"]);
    }

    #[test]
    fn parallel_guarantees_merge() {
        let g = Graph::new(
            vec![("A", "B", 100.0), ("A", "B", 50.0), ("B", "A", 7.0)],
            [],
        );
        assert_eq!(g.amount(0, 1), 150.0);
        assert_eq!(g.out[0], [1]);
    }

    #[test]
    fn circles_longer_than_the_bound_are_counted_not_listed() {
        // A ring of 8: A → B → … → H → A.
        let ring: Vec<(String, String)> = (0..8)
            .map(|i| {
                (
                    ((b'A' + i) as char).to_string(),
                    ((b'A' + (i + 1) % 8) as char).to_string(),
                )
            })
            .collect();
        let edges: Vec<(&str, &str)> = ring.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let g = graph(&edges);
        let c = circles_through(
            &g,
            0,
            Bounds {
                max_length: 6,
                ..UNBOUNDED
            },
        );
        assert_eq!(c.shortest, Some(8));
        assert_eq!(c.component.len(), 8);
        assert!(c.cycles.is_empty());
        let c = circles_through(
            &g,
            0,
            Bounds {
                max_length: 8,
                ..UNBOUNDED
            },
        );
        assert_eq!(names(&g, &c.cycles), ["A>B>C>D>E>F>G>H"]);
    }

    /// Every simple cycle through s of length <= k, by brute force over permutations.
    fn brute_force(g: &Graph, s: usize, k: usize) -> BTreeSet<Vec<usize>> {
        let mut out = BTreeSet::new();
        let mut stack = vec![vec![s]];
        while let Some(path) = stack.pop() {
            let u = *path.last().unwrap();
            for &v in &g.out[u] {
                if v == s && path.len() >= 2 {
                    out.insert(path.clone());
                } else if !path.contains(&v) && path.len() < k {
                    let mut p = path.clone();
                    p.push(v);
                    stack.push(p);
                }
            }
        }
        out
    }

    #[test]
    fn enumeration_agrees_with_brute_force_on_pseudo_random_graphs() {
        // A fixed linear congruential sequence: reproducible graphs without a clock or RNG crate.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) as usize
        };
        for round in 0..40 {
            let n = 3 + round % 6;
            let ids: Vec<String> = (0..n).map(|i| format!("P{i}")).collect();
            let edges: Vec<(&str, &str, f64)> = (0..n * 2)
                .map(|_| (ids[next() % n].as_str(), ids[next() % n].as_str(), 1.0))
                .collect();
            let g = Graph::new(edges, ids.iter().map(String::as_str));
            for k in 2..=n {
                let c = circles_through(
                    &g,
                    0,
                    Bounds {
                        max_length: k as u32,
                        ..UNBOUNDED
                    },
                );
                let got: BTreeSet<Vec<usize>> = c.cycles.iter().cloned().collect();
                assert_eq!(got.len(), c.cycles.len(), "no duplicates");
                assert_eq!(got, brute_force(&g, 0, k), "round {round}, k {k}");
                let lengths: Vec<usize> = c.cycles.iter().map(Vec::len).collect();
                assert!(lengths.windows(2).all(|w| w[0] <= w[1]), "shortest first");
                assert_eq!(c.shortest.is_some(), c.component.len() > 1);
            }
        }
    }

    #[test]
    fn a_dense_hostile_graph_stops_at_the_bounds() {
        // Complete digraph on 60 parties: astronomically many circles through P0.
        let ids: Vec<String> = (0..60).map(|i| format!("P{i:02}")).collect();
        let edges: Vec<(&str, &str, f64)> = ids
            .iter()
            .flat_map(|a| {
                ids.iter()
                    .filter(move |b| *b != a)
                    .map(move |b| (a.as_str(), b.as_str(), 1.0))
            })
            .collect();
        let g = Graph::new(edges, []);
        let c = circles_through(
            &g,
            0,
            Bounds {
                max_length: 12,
                max_cycles: 1000,
                max_steps: 100_000,
            },
        );
        assert!(c.truncated);
        assert!(c.steps <= 100_000);
        assert_eq!(c.component.len(), 60);
        assert_eq!(c.shortest, Some(2));
        // Count bound: all 59 mutual pairs come first, then the bound cuts the triangles.
        let c = circles_through(
            &g,
            0,
            Bounds {
                max_length: 12,
                max_cycles: 70,
                max_steps: 10_000_000,
            },
        );
        assert!(c.truncated);
        assert_eq!(c.cycles.len(), 70);
        assert_eq!(c.cycles.iter().filter(|c| c.len() == 2).count(), 59);
    }
}
