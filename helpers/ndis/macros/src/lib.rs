//! `#[kernel_abi]`: one calling convention in both worlds.
//!
//! A Windows kernel image calls NDIS, and NDIS calls it, with the Windows x64 convention. The same
//! driver linked into a Linux test process would use the System V convention for `extern "system"`,
//! so a test host could call the linked driver but not the shipped image (or the reverse). This
//! attribute makes every `extern "system"` in the item it marks (a function, a block of imports, a
//! function pointer type) `extern "win64"` on x86-64, whatever the operating system, and leaves it
//! `"system"` on every other architecture: the item is emitted twice, under
//! `#[cfg(target_arch = "x86_64")]` and its negation. The source keeps reading `extern "system"`,
//! the convention's name in the WDK, and rustfmt formats it as any other item.
//!
//! No dependencies: the rewrite is a walk over the token stream that replaces the string literal
//! after each `extern` keyword.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// See the crate documentation. `#[kernel_abi(host)]`, for ndis-host's exports, also runs the
/// function's body through `crate::stack::on_host_stack_named` with the function's name: a driver
/// calls the export on its kernel stack, the host's work happens on the thread's own stack, and
/// the host can trace the call by name.
#[proc_macro_attribute]
pub fn kernel_abi(attribute: TokenStream, item: TokenStream) -> TokenStream {
    let mut arguments = attribute.into_iter();
    let item = match arguments.next() {
        None => item,
        Some(TokenTree::Ident(i)) if i.to_string() == "host" && arguments.next().is_none() => {
            match on_host_stack(item) {
                Ok(item) => item,
                Err(span) => return error(span, "#[kernel_abi(host)] needs a function with a body"),
            }
        }
        Some(token) => return error(token.span(), "#[kernel_abi] takes no arguments but `host`"),
    };
    let mut out = TokenStream::new();
    out.extend(cfg(true));
    out.extend(rewrite(item.clone(), "win64"));
    out.extend(cfg(false));
    out.extend(item);
    out
}

/// `#[cfg(target_arch = "x86_64")]`, or its negation.
fn cfg(x86_64: bool) -> TokenStream {
    let test: TokenStream = [
        TokenTree::Ident(Ident::new("target_arch", Span::call_site())),
        TokenTree::Punct(Punct::new('=', Spacing::Alone)),
        TokenTree::Literal(Literal::string("x86_64")),
    ]
    .into_iter()
    .collect();
    let test = if x86_64 {
        test
    } else {
        [
            TokenTree::Ident(Ident::new("not", Span::call_site())),
            TokenTree::Group(Group::new(Delimiter::Parenthesis, test)),
        ]
        .into_iter()
        .collect()
    };
    let inner: TokenStream = [
        TokenTree::Ident(Ident::new("cfg", Span::call_site())),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, test)),
    ]
    .into_iter()
    .collect();
    [
        TokenTree::Punct(Punct::new('#', Spacing::Alone)),
        TokenTree::Group(Group::new(Delimiter::Bracket, inner)),
    ]
    .into_iter()
    .collect()
}

/// Wraps the last top-level brace group of a function item (its body) in
/// `crate::stack::on_host_stack_named("name", || { body })`.
fn on_host_stack(item: TokenStream) -> Result<TokenStream, Span> {
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let name = tokens
        .windows(2)
        .find_map(|pair| match pair {
            [TokenTree::Ident(f), TokenTree::Ident(name)] if f.to_string() == "fn" => Some(name.to_string()),
            _ => None,
        })
        .ok_or_else(Span::call_site)?;
    let Some(at) = tokens
        .iter()
        .rposition(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace))
    else {
        return Err(Span::call_site());
    };
    let body = tokens[at].clone();
    let span = body.span();
    let path = ["crate", "stack", "on_host_stack_named"];
    let mut call: Vec<TokenTree> = Vec::new();
    for (i, segment) in path.iter().enumerate() {
        if i > 0 {
            call.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
            call.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
        }
        call.push(TokenTree::Ident(Ident::new(segment, span)));
    }
    let closure: TokenStream = [
        TokenTree::Literal(Literal::string(&name)),
        TokenTree::Punct(Punct::new(',', Spacing::Alone)),
        TokenTree::Punct(Punct::new('|', Spacing::Joint)),
        TokenTree::Punct(Punct::new('|', Spacing::Alone)),
        body,
    ]
    .into_iter()
    .collect();
    call.push(TokenTree::Group(Group::new(Delimiter::Parenthesis, closure)));
    tokens[at] = TokenTree::Group(Group::new(Delimiter::Brace, call.into_iter().collect()));
    Ok(tokens.into_iter().collect())
}

/// Replaces the ABI string after every `extern` (in nested groups too) with `abi`.
fn rewrite(stream: TokenStream, abi: &str) -> TokenStream {
    let mut out = Vec::new();
    let mut after_extern = false;
    for token in stream {
        let token = match token {
            TokenTree::Group(group) => {
                let mut new = Group::new(group.delimiter(), rewrite(group.stream(), abi));
                new.set_span(group.span());
                TokenTree::Group(new)
            }
            TokenTree::Literal(literal) if after_extern && literal.to_string() == "\"system\"" => {
                let mut new = Literal::string(abi);
                new.set_span(literal.span());
                TokenTree::Literal(new)
            }
            other => other,
        };
        after_extern = matches!(&token, TokenTree::Ident(i) if i.to_string() == "extern");
        out.push(token);
    }
    out.into_iter().collect()
}

fn error(span: Span, message: &str) -> TokenStream {
    let mut literal = Literal::string(message);
    literal.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(Punct::new('!', Spacing::Alone)),
        TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenTree::Literal(literal).into(),
        )),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]
    .into_iter()
    .collect()
}
