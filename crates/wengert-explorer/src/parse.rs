//! A user's expression over scalars, `sigmoid(w1 * x + b) * w2`, parsed by recursive descent
//! into a [`Graph`] of the engine's scalar ops. Every name is a trainable scalar leaf; numbers
//! become the constants of scalar ops (`x * 2` is `mul_scalar`), and parts without a name
//! are folded to one number.
//!
//! Grammar (`^` binds tightest and groups to the right; `**` is read as `^`):
//!
//! ```text
//! expr    = term (("+" | "-") term)*
//! term    = unary (("*" | "/") unary)*
//! unary   = "-" unary | power
//! power   = primary ("^" unary)?
//! primary = number | name | function "(" expr ")" | "(" expr ")"
//! ```

use crate::graph::{Function, Graph, Op};
use std::fmt;
use wengert_tape::Tape;

/// The longest expression accepted, in characters: a longer one draws no readable graph.
pub const MAX_LENGTH: usize = 300;

/// The value a name gets until the user sets one: the k-th name takes the k-th of these
/// (cycling), so the gradients of a first look differ from each other.
pub const DEFAULT_VALUES: [f64; 6] = [0.5, -1.5, 0.25, 2.0, -0.75, 1.0];

/// Why an expression was not accepted, and where: `column` counts characters from 1.
///
/// # Examples
///
/// ```
/// use wengert_explorer::parse::parse;
/// let error = parse("sigmoid(w * x + ) * 2").unwrap_err();
/// assert_eq!(error.column, 17);
/// assert_eq!(error.to_string(), "column 17: expected a number, a name or '(', found ')'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where, in characters from 1.
    pub column: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Symbol(char),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(x) => format!("the number {x}"),
            Token::Name(name) => format!("'{name}'"),
            Token::Symbol(c) => format!("'{c}'"),
            Token::End => "the end of the expression".to_string(),
        }
    }
}

/// Tokens with the column (from 1) of their first character, and where each ends
/// (exclusive, 0-based character index).
type Tokens = (Vec<(Token, usize)>, Vec<usize>);

/// The tokens of `text`, ending with [`Token::End`].
fn tokens(text: &str) -> Result<Tokens, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = out.len();
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            // An exponent: 1e-3, 2E5.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let value = literal
                .parse::<f64>()
                .map_err(|_| ParseError { message: format!("'{literal}' is not a number"), column })?;
            out.push((Token::Number(value), column));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Name(chars[start..i].iter().collect()), column));
        } else if c == '*' && chars.get(i + 1) == Some(&'*') {
            out.push((Token::Symbol('^'), column));
            i += 2;
        } else if "+-*/^()".contains(c) {
            out.push((Token::Symbol(c), column));
            i += 1;
        } else {
            return Err(ParseError { message: format!("unexpected character '{c}'"), column });
        }
        if out.len() > before {
            ends.push(i);
        }
    }
    out.push((Token::End, chars.len() + 1));
    ends.push(chars.len());
    Ok((out, ends))
}

/// The syntax tree, each part with the character range it was read from.
#[derive(Clone, Debug)]
enum Expr {
    Number(f64),
    Name(String),
    Neg(Box<Spanned>),
    Call(Function, Box<Spanned>),
    Binary(char, Box<Spanned>, Box<Spanned>),
}

#[derive(Clone, Debug)]
struct Spanned {
    expr: Expr,
    start: usize,
    end: usize,
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
    /// Where each token ends (exclusive, 0-based character index).
    ends: Vec<usize>,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.position].0
    }

    fn column(&self) -> usize {
        self.tokens[self.position].1
    }

    fn advance(&mut self) -> (Token, usize) {
        let token = self.tokens[self.position].clone();
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn last_end(&self) -> usize {
        self.ends[self.position.saturating_sub(1)]
    }

    fn error<T>(&self, message: String) -> Result<T, ParseError> {
        Err(ParseError { message, column: self.column() })
    }

    fn expr(&mut self) -> Result<Spanned, ParseError> {
        let mut left = self.term()?;
        while let Token::Symbol(op @ ('+' | '-')) = *self.peek() {
            self.advance();
            let right = self.term()?;
            left = binary(op, left, right);
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Spanned, ParseError> {
        let mut left = self.unary()?;
        while let Token::Symbol(op @ ('*' | '/')) = *self.peek() {
            self.advance();
            let right = self.unary()?;
            left = binary(op, left, right);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Spanned, ParseError> {
        if *self.peek() == Token::Symbol('-') {
            let start = self.column() - 1;
            self.advance();
            let operand = self.unary()?;
            let end = operand.end;
            return Ok(Spanned { expr: Expr::Neg(Box::new(operand)), start, end });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Spanned, ParseError> {
        let base = self.primary()?;
        if *self.peek() == Token::Symbol('^') {
            self.advance();
            let exponent = self.unary()?;
            return Ok(binary('^', base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Spanned, ParseError> {
        let start = self.column() - 1;
        match self.peek().clone() {
            Token::Number(x) => {
                self.advance();
                Ok(Spanned { expr: Expr::Number(x), start, end: self.last_end() })
            }
            Token::Name(name) => {
                self.advance();
                if *self.peek() == Token::Symbol('(') {
                    let Some(function) = Function::from_name(&name) else {
                        let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
                        return Err(ParseError {
                            message: format!("unknown function '{name}' (known: {}, log)", known.join(", ")),
                            column: start + 1,
                        });
                    };
                    let open = self.column();
                    self.advance();
                    let argument = self.expr()?;
                    self.close(open)?;
                    let end = self.last_end();
                    return Ok(Spanned { expr: Expr::Call(function, Box::new(argument)), start, end });
                }
                if Function::from_name(&name).is_some() {
                    return Err(ParseError {
                        message: format!("'{name}' is a function: write {name}(...)"),
                        column: start + 1,
                    });
                }
                Ok(Spanned { expr: Expr::Name(name), start, end: self.last_end() })
            }
            Token::Symbol('(') => {
                let open = self.column();
                self.advance();
                let inner = self.expr()?;
                self.close(open)?;
                Ok(Spanned { expr: inner.expr, start, end: self.last_end() })
            }
            other => self.error(format!("expected a number, a name or '(', found {}", other.describe())),
        }
    }

    /// Consumes the ')' that closes the '(' at column `open`.
    fn close(&mut self, open: usize) -> Result<(), ParseError> {
        match self.peek() {
            Token::Symbol(')') => {
                self.advance();
                Ok(())
            }
            other => {
                let found = other.describe();
                self.error(format!("expected ')' to close the '(' of column {open}, found {found}"))
            }
        }
    }
}

fn binary(op: char, left: Spanned, right: Spanned) -> Spanned {
    let (start, end) = (left.start, right.end);
    Spanned { expr: Expr::Binary(op, Box::new(left), Box::new(right)), start, end }
}

/// A parsed expression lowered to a graph: its names (the leaves, first use first) and the
/// graph, whose last node is the expression's value.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The graph: one leaf per name, then the ops.
    pub graph: Graph,
    /// The names, in the order of their first use.
    pub names: Vec<String>,
}

/// Parses `text` into a graph of the engine's scalar ops.
///
/// # Errors
///
/// A [`ParseError`] with the column of the first problem: an unexpected character or token,
/// an unknown function, a missing parenthesis, an expression without any name, or one
/// longer than [`MAX_LENGTH`].
///
/// # Examples
///
/// ```
/// use wengert_explorer::parse::parse;
/// let parsed = parse("sigmoid(w1 * x + b) * w2")?;
/// assert_eq!(parsed.names, ["w1", "x", "b", "w2"]);
/// // 4 leaves, then mul, add, sigmoid, mul.
/// assert_eq!(parsed.graph.nodes.len(), 8);
/// assert_eq!(parsed.graph.nodes[7].label, "sigmoid(w1 * x + b) * w2");
/// # Ok::<(), wengert_explorer::parse::ParseError>(())
/// ```
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let length = text.chars().count();
    if length > MAX_LENGTH {
        return Err(ParseError {
            message: format!("the expression has {length} characters, at most {MAX_LENGTH} are drawn"),
            column: MAX_LENGTH + 1,
        });
    }
    let (tokens, ends) = tokens(text)?;
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser { tokens, position: 0, ends };
    if *parser.peek() == Token::End {
        return parser.error("the expression is empty".to_string());
    }
    let tree = parser.expr()?;
    if *parser.peek() != Token::End {
        let found = parser.peek().describe();
        return parser.error(format!("expected an operator or the end, found {found}"));
    }
    let mut names = Vec::new();
    collect_names(&tree, &mut names);
    if names.is_empty() {
        return Err(ParseError { message: "the expression has no name to differentiate by".to_string(), column: 1 });
    }
    let mut graph = Graph::default();
    for (k, name) in names.iter().enumerate() {
        graph.leaf(name, true, &[DEFAULT_VALUES[k % DEFAULT_VALUES.len()]]);
    }
    let lowering = Lowering { chars: &chars, names: &names };
    match lowering.lower(&tree, &mut graph) {
        Operand::Node(_) => Ok(Parsed { graph, names }),
        Operand::Number(_) => unreachable!("an expression with a name lowers to a node"),
    }
}

fn collect_names(tree: &Spanned, names: &mut Vec<String>) {
    match &tree.expr {
        Expr::Number(_) => {}
        Expr::Name(name) => {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        Expr::Neg(inner) | Expr::Call(_, inner) => collect_names(inner, names),
        Expr::Binary(_, left, right) => {
            collect_names(left, names);
            collect_names(right, names);
        }
    }
}

/// A lowered part: a number (no name inside) or a graph node.
enum Operand {
    Number(f64),
    Node(usize),
}

struct Lowering<'a> {
    chars: &'a [char],
    names: &'a [String],
}

impl Lowering<'_> {
    fn label(&self, tree: &Spanned) -> String {
        self.chars[tree.start..tree.end].iter().collect::<String>().trim().to_string()
    }

    fn lower(&self, tree: &Spanned, graph: &mut Graph) -> Operand {
        let label = self.label(tree);
        match &tree.expr {
            Expr::Number(x) => Operand::Number(*x),
            Expr::Name(name) => Operand::Node(self.names.iter().position(|n| n == name).expect("names were collected")),
            Expr::Neg(inner) => match self.lower(inner, graph) {
                Operand::Number(x) => Operand::Number(-x),
                Operand::Node(i) => Operand::Node(graph.push(Op::Neg, &[i], &label)),
            },
            Expr::Call(function, inner) => match self.lower(inner, graph) {
                // A function of a number: the engine computes it, on a tape of its own.
                Operand::Number(x) => {
                    let tape = Tape::<f64>::new();
                    let mut constant = Graph::default();
                    let leaf = constant.leaf("c", false, &[x]);
                    constant.push(Op::Function(*function), &[leaf], "f(c)");
                    Operand::Number(constant.record(&tape)[1].value())
                }
                Operand::Node(i) => Operand::Node(graph.push(Op::Function(*function), &[i], &label)),
            },
            Expr::Binary(op, left, right) => {
                let (left, right) = (self.lower(left, graph), self.lower(right, graph));
                match (left, right) {
                    (Operand::Number(a), Operand::Number(b)) => Operand::Number(match op {
                        '+' => a + b,
                        '-' => a - b,
                        '*' => a * b,
                        '/' => a / b,
                        _ => a.powf(b),
                    }),
                    (Operand::Node(x), Operand::Number(c)) => {
                        let node_op = match op {
                            '+' => Op::AddScalar(c),
                            // x - c is recorded as x + (-c), as the engine's operator does.
                            '-' => Op::AddScalar(-c),
                            '*' => Op::MulScalar(c),
                            '/' => Op::DivScalar(c),
                            _ if c.fract() == 0.0 && c.abs() <= 64.0 => Op::Powi(c as i32),
                            _ => Op::Powf(c),
                        };
                        Operand::Node(graph.push(node_op, &[x], &label))
                    }
                    (Operand::Number(c), Operand::Node(x)) => {
                        let node_op = match op {
                            '+' => Op::AddScalar(c),
                            '-' => Op::ScalarSub(c),
                            '*' => Op::MulScalar(c),
                            '/' => Op::ScalarDiv(c),
                            _ => {
                                // c^x: the base becomes a constant leaf.
                                let base = graph.leaf(&format_number(c), false, &[c]);
                                return Operand::Node(graph.push(Op::Pow, &[base, x], &label));
                            }
                        };
                        Operand::Node(graph.push(node_op, &[x], &label))
                    }
                    (Operand::Node(a), Operand::Node(b)) => {
                        let node_op = match op {
                            '+' => Op::Add,
                            '-' => Op::Sub,
                            '*' => Op::Mul,
                            '/' => Op::Div,
                            _ => Op::Pow,
                        };
                        Operand::Node(graph.push(node_op, &[a, b], &label))
                    }
                }
            }
        }
    }
}

fn format_number(x: f64) -> String {
    wengert_tape::inspect::significant(x, 12)
}
